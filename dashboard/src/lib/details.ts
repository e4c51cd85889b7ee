// What a title page says about a title and its episodes, from the library and TMDB together:
// genres, rating and air dates in the interface's language, and one row per episode whichever
// of the two knows it.
import type { Genre, LibraryEpisode, LibrarySeason, TmdbSeason } from '$lib/api/types';
import { currentLang, hasMessage, t } from '$lib/i18n';

/** `Science-Fiction` for TMDB's genre 878 in French: known ids from the catalogue, TMDB's name otherwise. */
export function genreName(genre: Genre): string {
	const key = `genre.${genre.id}`;
	return hasMessage(key) ? t(key) : genre.name;
}

/** `7,8` in French, `7.8` in English: TMDB's average vote, always with its one decimal. */
export function formatRating(rating: number): string {
	return new Intl.NumberFormat(currentLang(), { minimumFractionDigits: 1, maximumFractionDigits: 1 }).format(rating);
}

/**
 * `20 janvier 2008` / `January 20, 2008` for TMDB's `2008-01-20`; null for anything else. The
 * date is a calendar day, not an instant: read and written in UTC so no time zone moves it.
 */
export function formatAirDate(date: string | null | undefined): string | null {
	const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(date ?? '');
	if (!m) return null;
	const day = new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])));
	if (Number.isNaN(day.getTime()) || day.getUTCDate() !== Number(m[3])) return null;
	return new Intl.DateTimeFormat(currentLang(), { dateStyle: 'long', timeZone: 'UTC' }).format(day);
}

/** One row of a season on the title page. */
export interface EpisodeRow {
	episode: number;
	title: string | null;
	/** Seconds: the library file's, else TMDB's runtime; null when neither knows. */
	duration: number | null;
	overview: string | null;
	airDate: string | null;
	/** Pictures to try in order: the library's frame of the file, then TMDB's still. */
	stills: string[];
	inLibrary: boolean;
}

/**
 * The season's episodes: the library's, each with TMDB's synopsis, date and still when TMDB has
 * the season, and TMDB's others too (the remote providers can play them). In episode order.
 */
export function episodeRows(library: readonly LibraryEpisode[], tmdb: TmdbSeason | null | undefined): EpisodeRow[] {
	const fromTmdb = new Map((tmdb?.episodes ?? []).map((e) => [e.episode, e]));
	const rows: EpisodeRow[] = library.map((e) => {
		const meta = fromTmdb.get(e.episode);
		return {
			episode: e.episode,
			title: e.title || meta?.name || null,
			duration: e.duration > 0 ? e.duration : meta?.runtime ? meta.runtime * 60 : null,
			overview: meta?.overview ?? null,
			airDate: meta?.air_date ?? null,
			stills: [e.still_url, meta?.still_url].filter((s): s is string => !!s),
			inLibrary: true
		};
	});
	const have = new Set(library.map((e) => e.episode));
	for (const meta of fromTmdb.values()) {
		if (have.has(meta.episode)) continue;
		rows.push({
			episode: meta.episode,
			title: meta.name || null,
			duration: meta.runtime ? meta.runtime * 60 : null,
			overview: meta.overview ?? null,
			airDate: meta.air_date ?? null,
			stills: meta.still_url ? [meta.still_url] : [],
			inLibrary: false
		});
	}
	return rows.sort((a, b) => a.episode - b.episode);
}

/** The season tabs: every season the library or TMDB knows, specials last. */
export function seasonNumbers(library: readonly LibrarySeason[], tmdb: readonly { season: number }[] | null | undefined): number[] {
	const all = new Set([...library.map((s) => s.season), ...(tmdb ?? []).map((s) => s.season)]);
	return [...all].sort((a, b) => (a || 1e6) - (b || 1e6));
}
