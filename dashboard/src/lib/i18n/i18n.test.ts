import { afterEach, describe, expect, it } from 'vitest';
import { en } from './en';
import { fr } from './fr';
import { formatSigned, languageName, providerName, setMessages, t, tp, type Messages } from './index';
import { formatDuration } from '$lib/media';

afterEach(() => setMessages(null, 'fr'));

/** Intl separates a number from its unit with a (narrow) no-break space. */
const plain = (text: string) => text.replace(/[\u00a0\u202f]/g, ' ');
const placeholders = (text: string) => [...text.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort();

describe('the catalogues', () => {
	it('have the same keys in French and English', () => {
		expect(Object.keys(en).sort()).toEqual(Object.keys(fr).sort());
	});

	it('use the same placeholders for each key', () => {
		const differ = Object.keys(fr).filter(
			(key) =>
				placeholders(fr[key as keyof typeof fr]).join() !== placeholders(en[key as keyof typeof en]).join()
		);
		expect(differ).toEqual([]);
	});

	it('leave no message empty', () => {
		expect(Object.entries(en).filter(([, v]) => !v.trim())).toEqual([]);
		expect(Object.entries(fr).filter(([, v]) => !v.trim())).toEqual([]);
	});
});

describe('t', () => {
	it('fills placeholders and leaves unknown ones visible', () => {
		expect(t('player.resumedAt', { time: '12:34' })).toBe('Reprise à 12:34');
		expect(t('player.resumedAt')).toBe('Reprise à {time}');
	});

	it('speaks the chosen language', () => {
		setMessages(null, 'en');
		expect(t('title.watch')).toBe('Watch');
		expect(t('player.error.noSources')).toBe('No source was found for this title.');
	});

	it('can be given a catalogue of its own', () => {
		setMessages({ ...fr, 'title.watch': 'Voir' } as Messages, 'fr');
		expect(t('title.watch')).toBe('Voir');
	});
});

describe('tp', () => {
	it('uses French plural rules (0 and 1 are singular)', () => {
		expect(tp('outcome.ok', 0)).toBe('0 source trouvée');
		expect(tp('outcome.ok', 1)).toBe('1 source trouvée');
		expect(tp('outcome.ok', 3)).toBe('3 sources trouvées');
	});

	it('uses English plural rules (0 is plural)', () => {
		setMessages(null, 'en');
		expect(tp('outcome.ok', 0)).toBe('0 sources found');
		expect(tp('outcome.ok', 1)).toBe('1 source found');
		expect(tp('title.seasonCount', 1234)).toBe('1,234 seasons');
	});
});

describe('Intl-made words', () => {
	it('names durations in each language', () => {
		expect(plain(formatDuration(12))).toBe('12 s');
		expect(plain(formatDuration(118 * 60))).toBe('1 h 58 min');
		setMessages(null, 'en');
		expect(plain(formatDuration(12))).toBe('12 sec');
		expect(plain(formatDuration(118 * 60))).toBe('1 hr 58 min');
	});

	it('names languages in the interface language', () => {
		expect(languageName('en')).toBe('Anglais');
		expect(languageName('und')).toBeNull();
		expect(languageName('not a tag')).toBeNull();
		setMessages(null, 'en');
		expect(languageName('fr')).toBe('French');
	});

	it('translates provider ids it knows and keeps the others', () => {
		expect(providerName('library')).toBe('Bibliothèque');
		expect(providerName('someaddon')).toBe('someaddon');
		setMessages(null, 'en');
		expect(providerName('library')).toBe('Library');
	});

	it('signs offsets', () => {
		expect(formatSigned(0.5)).toBe('+0,5');
		setMessages(null, 'en');
		expect(formatSigned(-0.1)).toBe('-0.1');
	});
});
