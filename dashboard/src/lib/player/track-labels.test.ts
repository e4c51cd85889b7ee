import { afterEach, describe, expect, it } from 'vitest';
import { setMessages } from '$lib/i18n';
import { trackLabel } from './track-labels';

afterEach(() => setMessages(null, 'fr'));

describe('trackLabel', () => {
	it('names a library track’s language in French, keeping the file’s own title', () => {
		expect(trackLabel({ lang: 'en', name: 'English – Signs & Songs (forced)' })).toBe(
			'Anglais – Signs & Songs (forcés)'
		);
		expect(trackLabel({ lang: 'fr', name: 'Français' })).toBe('Français');
		expect(trackLabel({ lang: 'en', name: 'English (SDH)' })).toBe('Anglais (SDH)');
		expect(trackLabel({ lang: 'fr', name: 'Français · Sokoul Test Subtitles' })).toBe(
			'Français – Sokoul Test Subtitles'
		);
	});

	it('names it in English for an English interface', () => {
		setMessages(null, 'en');
		expect(trackLabel({ lang: 'fr', name: 'Français – Commentaire' })).toBe('French – Commentaire');
		expect(trackLabel({ lang: 'ja', name: null, forced: true })).toBe('Japanese (forced)');
	});

	it('keeps a stream’s name that is not a language name', () => {
		expect(trackLabel({ lang: 'en', name: 'Director’s commentary' })).toBe('Anglais – Director’s commentary');
	});

	it('falls back to the name, else says the language is unknown', () => {
		expect(trackLabel({ lang: 'und', name: 'Track 3' })).toBe('Track 3');
		expect(trackLabel({ lang: '', name: '' })).toBe('Langue inconnue');
		expect(trackLabel({ lang: 'und', name: 'Unknown' })).toBe('Langue inconnue');
	});
});
