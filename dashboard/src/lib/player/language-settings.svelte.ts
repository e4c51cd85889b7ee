// The viewer's languages as the player holds them: the preferences and the current series' last
// choice, read from the server when a title loads, and the viewer's picks saved back per series.
import {
	getLanguagePreferences,
	getMetadata,
	getSeriesLanguages,
	saveLanguagePreferences,
	saveSeriesLanguages
} from '$lib/api/client';
import type { LanguageMode } from '$lib/api/generated/LanguageMode';
import type { LanguagePreferences } from '$lib/api/generated/LanguagePreferences';
import type { ResolvedMedia as MediaInfo } from '$lib/api/types';
import type { LanguageContext } from './languages';

export interface LanguageApi {
	getPreferences: () => Promise<LanguagePreferences>;
	savePreferences: (prefs: LanguagePreferences) => Promise<LanguagePreferences>;
	getSeries: (tmdbId: number) => Promise<{ audio: string | null; subtitles: string | null } | null>;
	saveSeries: (tmdbId: number, update: { audio?: string; subtitles?: string }) => Promise<void>;
	/** The title's original language (TMDB metadata), null when unknown. */
	originalLanguage: (media: Pick<MediaInfo, 'media_type' | 'tmdb_id'>) => Promise<string | null>;
}

const serverApi: LanguageApi = {
	getPreferences: () => getLanguagePreferences(),
	savePreferences: (prefs) => saveLanguagePreferences(prefs),
	getSeries: (id) => getSeriesLanguages(id),
	saveSeries: (id, update) => saveSeriesLanguages(id, update),
	originalLanguage: async (media) =>
		(await getMetadata(media.media_type, media.tmdb_id))?.original_language ?? null
};

/** What each mode of the "Langues" menu saves. */
export function preferencesFor(mode: LanguageMode, current: LanguagePreferences | null): LanguagePreferences {
	const base = current ?? { mode: 'none', audio: [], subtitles: [] };
	switch (mode) {
		case 'vf':
			return { mode, audio: ['fr'], subtitles: [] };
		case 'vostfr':
			return { mode, audio: [], subtitles: ['fr'] };
		default:
			return { ...base, mode };
	}
}

export class LanguageSettings {
	prefs = $state.raw<LanguagePreferences | null>(null);
	series = $state.raw<{ audio: string | null; subtitles: string | null } | null>(null);
	/** The title's original language, read for VOSTFR only. */
	originalLanguage = $state<string | null>(null);

	#api: LanguageApi;
	#seriesId: number | null = null;
	#media: Pick<MediaInfo, 'media_type' | 'tmdb_id'> | null = null;

	constructor(api: LanguageApi = serverApi) {
		this.#api = api;
	}

	/** A new title: another series' choice no longer applies (synchronous, before any track is chosen). */
	select(media: Pick<MediaInfo, 'media_type' | 'tmdb_id'> | null | undefined): void {
		const seriesId = media?.media_type === 'tv' ? media.tmdb_id : null;
		if (seriesId !== this.#seriesId) this.series = null;
		this.#seriesId = seriesId;
		this.#media = media ?? null;
		this.originalLanguage = null;
	}

	/**
	 * Reads the preferences and, for an episode of the selected series, its last choice. Failures
	 * leave them unknown (the source's own defaults play): languages never block playback.
	 */
	async load(): Promise<void> {
		const seriesId = this.#seriesId;
		const [prefs, series] = await Promise.allSettled([
			this.#api.getPreferences(),
			seriesId === null ? Promise.resolve(null) : this.#api.getSeries(seriesId)
		]);
		if (prefs.status === 'fulfilled') this.prefs = prefs.value;
		if (seriesId === this.#seriesId) this.series = series.status === 'fulfilled' ? series.value : null;
		const media = this.#media;
		if (this.prefs?.mode === 'vostfr' && media) {
			// Without TMDB (no key, unknown title) the source's default track stands for it.
			const original = await this.#api.originalLanguage(media).catch(() => null);
			if (media === this.#media) this.originalLanguage = original;
		}
	}

	context(): LanguageContext {
		return { prefs: this.prefs, series: this.series, originalLanguage: this.originalLanguage };
	}

	/** The "Langues" menu: saved on the server, applied from the next source start. */
	async setMode(mode: LanguageMode): Promise<void> {
		const next = preferencesFor(mode, this.prefs);
		this.prefs = next;
		try {
			this.prefs = await this.#api.savePreferences(next);
		} catch (error) {
			console.warn('the language preferences could not be saved', error);
		}
		const media = this.#media;
		if (mode === 'vostfr' && media && this.originalLanguage === null) {
			const original = await this.#api.originalLanguage(media).catch(() => null);
			if (media === this.#media) this.originalLanguage = original;
		}
	}

	/** The viewer picked audio or subtitles during an episode: it wins for the next ones. */
	recordChoice(update: { audio?: string; subtitles?: string }): void {
		const id = this.#seriesId;
		if (id === null) return;
		this.series = {
			audio: update.audio ?? this.series?.audio ?? null,
			subtitles: update.subtitles ?? this.series?.subtitles ?? null
		};
		this.#api.saveSeries(id, update).catch((error) => console.warn('the series language choice could not be saved', error));
	}
}
