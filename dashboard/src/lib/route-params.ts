// Validation of the /title and /watch URL parameters, shared by their `load` functions.
import type { MediaKey } from '$lib/api/client';
import type { MediaType } from '$lib/api/types';
import { t } from '$lib/i18n';

export type Parsed<T> = { ok: true; value: T } | { ok: false; status: number; message: string };

function nonNegativeInt(value: string | null): number | null {
	if (value === null || !/^\d{1,6}$/.test(value)) return null;
	return Number(value);
}

export function parseTitleParams(params: {
	media_type: string;
	tmdb_id: string;
}): Parsed<{ media_type: MediaType; tmdb_id: number }> {
	const { media_type } = params;
	if (media_type !== 'movie' && media_type !== 'tv') {
		return { ok: false, status: 404, message: t('error.badMediaType', { value: media_type }) };
	}
	const tmdb_id = /^\d{1,10}$/.test(params.tmdb_id) ? Number(params.tmdb_id) : 0;
	if (tmdb_id <= 0) return { ok: false, status: 404, message: t('error.badId', { value: params.tmdb_id }) };
	return { ok: true, value: { media_type, tmdb_id } };
}

/** A series needs `?season=S&episode=E` (S ≥ 0, E ≥ 1); a film ignores them. */
export function parseWatchParams(
	params: { media_type: string; tmdb_id: string },
	search: URLSearchParams
): Parsed<MediaKey> {
	const title = parseTitleParams(params);
	if (!title.ok) return title;
	if (title.value.media_type === 'movie') return { ok: true, value: { ...title.value } };
	const season = nonNegativeInt(search.get('season'));
	const episode = nonNegativeInt(search.get('episode'));
	if (season === null || episode === null || episode < 1) {
		return { ok: false, status: 400, message: t('error.badEpisode') };
	}
	return { ok: true, value: { ...title.value, season, episode } };
}
