import { beforeEach, describe, expect, it } from 'vitest';
import {
	DEFAULT_PREFERENCES,
	loadPreferences,
	PREFERENCES_KEY,
	savePreferences,
	setPreferencesProfile
} from './preferences';

beforeEach(() => {
	localStorage.clear();
	setPreferencesProfile(null);
});

describe('player preferences', () => {
	it('defaults when nothing is stored', () => {
		expect(loadPreferences()).toEqual(DEFAULT_PREFERENCES);
	});

	it('keeps audio and subtitle choices for the next episode', () => {
		savePreferences({ audioLang: 'fr', subtitleLang: 'en' });
		savePreferences({ subtitleSize: 'l' });

		expect(loadPreferences()).toMatchObject({ audioLang: 'fr', subtitleLang: 'en', subtitleSize: 'l' });
	});

	it('keeps the quality choice, and refuses one the engine does not offer', () => {
		expect(loadPreferences().quality).toBe('original');
		savePreferences({ quality: '720' });
		expect(loadPreferences().quality).toBe('720');

		localStorage.setItem(PREFERENCES_KEY, JSON.stringify({ quality: '4320' }));
		expect(loadPreferences().quality).toBe('original');
	});

	it('ignores corrupt or out-of-range stored values', () => {
		localStorage.setItem(PREFERENCES_KEY, JSON.stringify({ volume: 7, subtitleSize: 'huge', muted: 'yes', audioLang: 'de' }));
		expect(loadPreferences()).toEqual({ ...DEFAULT_PREFERENCES, audioLang: 'de' });

		localStorage.setItem(PREFERENCES_KEY, '{not json');
		expect(loadPreferences()).toEqual(DEFAULT_PREFERENCES);
	});

	it('keeps one set per profile, each starting from what was kept before profiles', () => {
		savePreferences({ volume: 0.5 });
		setPreferencesProfile(1);
		savePreferences({ subtitleLang: 'fr' });
		setPreferencesProfile(2);
		expect(loadPreferences()).toMatchObject({ volume: 0.5, subtitleLang: null });
		savePreferences({ muted: true });
		setPreferencesProfile(1);
		expect(loadPreferences()).toMatchObject({ volume: 0.5, subtitleLang: 'fr', muted: false });
	});
});
