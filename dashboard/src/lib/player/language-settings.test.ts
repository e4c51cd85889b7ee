import { describe, expect, it, vi } from 'vitest';
import type { LanguagePreferences } from '$lib/api/generated/LanguagePreferences';
import { LanguageSettings, type LanguageApi } from './language-settings.svelte';

function fakeApi(prefs: LanguagePreferences, series: { audio: string | null; subtitles: string | null } | null = null) {
	return {
		getPreferences: vi.fn(async () => prefs),
		savePreferences: vi.fn(async (p: LanguagePreferences) => p),
		getSeries: vi.fn(async () => series),
		saveSeries: vi.fn(async () => {}),
		originalLanguage: vi.fn(async () => 'ja')
	} satisfies LanguageApi;
}

describe('the viewer languages the player holds', () => {
	it('VOSTFR reads the title’s original language; other modes do not ask TMDB', async () => {
		const api = fakeApi({ mode: 'vostfr', audio: [], subtitles: ['fr'] });
		const langs = new LanguageSettings(api);
		langs.select({ media_type: 'movie', tmdb_id: 129 });
		await langs.load();
		expect(langs.context()).toMatchObject({ originalLanguage: 'ja', series: null });
		expect(api.getSeries).not.toHaveBeenCalled();

		const vf = fakeApi({ mode: 'vf', audio: ['fr'], subtitles: [] });
		const other = new LanguageSettings(vf);
		other.select({ media_type: 'movie', tmdb_id: 129 });
		await other.load();
		expect(vf.originalLanguage).not.toHaveBeenCalled();
	});

	it("keeps a series' last choice for its episodes and saves new picks to the server", async () => {
		const api = fakeApi({ mode: 'vostfr', audio: [], subtitles: ['fr'] }, { audio: 'fr', subtitles: null });
		const langs = new LanguageSettings(api);
		langs.select({ media_type: 'tv', tmdb_id: 1396 });
		await langs.load();
		expect(langs.series).toEqual({ audio: 'fr', subtitles: null });

		langs.recordChoice({ subtitles: 'off' });
		expect(langs.series).toEqual({ audio: 'fr', subtitles: 'off' });
		expect(api.saveSeries).toHaveBeenCalledWith(1396, { subtitles: 'off' });

		// Another series: the choice does not follow; a film records nothing.
		langs.select({ media_type: 'tv', tmdb_id: 1399 });
		expect(langs.series).toBeNull();
		langs.select({ media_type: 'movie', tmdb_id: 603 });
		langs.recordChoice({ audio: 'en' });
		expect(api.saveSeries).toHaveBeenCalledTimes(1);
	});

	it('the Langues menu saves VF as French audio and VOSTFR as French subtitles', async () => {
		const api = fakeApi({ mode: 'none', audio: [], subtitles: [] });
		const langs = new LanguageSettings(api);
		await langs.setMode('vf');
		expect(api.savePreferences).toHaveBeenLastCalledWith({ mode: 'vf', audio: ['fr'], subtitles: [] });
		await langs.setMode('vostfr');
		expect(api.savePreferences).toHaveBeenLastCalledWith({ mode: 'vostfr', audio: [], subtitles: ['fr'] });
		expect(langs.prefs?.mode).toBe('vostfr');
	});
});
