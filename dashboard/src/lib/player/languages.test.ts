import { describe, expect, it } from 'vitest';
import type { LanguagePreferences } from '$lib/api/generated/LanguagePreferences';
import { chooseAudio, chooseSubtitle, type AudioChoice, type LanguageContext, type SubtitleChoice } from './languages';

const audio: AudioChoice[] = [
	{ id: 0, lang: 'en', name: 'English', default: true },
	{ id: 1, lang: 'fr', name: 'Français' }
];
const subs: SubtitleChoice[] = [
	{ id: 'ext:0', lang: 'en', label: 'English' },
	{ id: 'ext:1', lang: 'fr', label: 'Français (forced)' },
	{ id: 'ext:2', lang: 'fr', label: 'Français' },
	{ id: 'ext:3', lang: 'fr', label: 'Français PGS', image: true }
];

function ctx(mode: LanguagePreferences['mode'], extra: Partial<LanguageContext> = {}, lists: Partial<LanguagePreferences> = {}): LanguageContext {
	return { prefs: { mode, audio: [], subtitles: [], ...lists }, series: null, ...extra };
}

describe('the languages a source starts with', () => {
	it('VOSTFR: the original audio and full French subtitles', () => {
		expect(chooseAudio(audio, ctx('vostfr'))).toBe(0);
		expect(chooseSubtitle(subs, 'en', ctx('vostfr'))).toBe('ext:2');
	});

	it('VOSTFR follows the original language when TMDB gives it, whatever the default', () => {
		const jp: AudioChoice[] = [
			{ id: 0, lang: 'fr', name: 'VF', default: true },
			{ id: 1, lang: 'ja', name: '日本語' }
		];
		expect(chooseAudio(jp, ctx('vostfr', { originalLanguage: 'ja' }))).toBe(1);
		expect(chooseAudio(jp, ctx('vostfr'))).toBe(1);
	});

	it('VF: French audio, and subtitles only when forced', () => {
		expect(chooseAudio(audio, ctx('vf'))).toBe(1);
		expect(chooseSubtitle(subs, 'fr', ctx('vf'))).toBe('ext:1');
		expect(chooseSubtitle(subs.filter((s) => s.id !== 'ext:1'), 'fr', ctx('vf'))).toBeNull();
	});

	it('forced subtitles only: the forced track of the language heard', () => {
		const c = ctx('forced', {}, { audio: ['fr'] });
		expect(chooseAudio(audio, c)).toBe(1);
		expect(chooseSubtitle(subs, 'fr', c)).toBe('ext:1');
		expect(chooseSubtitle(subs, 'en', c)).toBeNull();
	});

	it('custom: the first listed language present, never subtitles in the language heard', () => {
		const c = ctx('custom', {}, { audio: ['de', 'en'], subtitles: ['en', 'fr'] });
		expect(chooseAudio(audio, c)).toBe(0);
		expect(chooseSubtitle(subs, 'en', c)).toBe('ext:2');
	});

	it("the series' last choice wins over the mode for its next episodes", () => {
		const c = ctx('vostfr', { series: { audio: 'fr', subtitles: 'off' } });
		expect(chooseAudio(audio, c)).toBe(1);
		expect(chooseSubtitle(subs, 'fr', c)).toBeNull();
		const subsOnly = ctx('vf', { series: { audio: null, subtitles: 'en' } });
		expect(chooseAudio(audio, subsOnly)).toBe(1);
		expect(chooseSubtitle(subs, 'fr', subsOnly)).toBe('ext:0');
	});

	it('no preference: no opinion, and image subtitles are never picked unasked', () => {
		expect(chooseAudio(audio, ctx('none'))).toBeUndefined();
		expect(chooseSubtitle(subs, 'en', ctx('none'))).toBeUndefined();
		expect(chooseAudio(audio, { prefs: null, series: null })).toBeUndefined();
		expect(chooseSubtitle([subs[3]], 'en', ctx('vostfr'))).toBeNull();
		expect(chooseAudio([], ctx('vf'))).toBeUndefined();
	});
});
