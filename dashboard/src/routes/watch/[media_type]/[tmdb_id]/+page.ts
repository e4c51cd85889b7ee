import { browser } from '$app/environment';
import { error } from '@sveltejs/kit';
import { getLibraryItem, getProgress } from '$lib/api/client';
import type { LibraryItemDetail, SavedProgress } from '$lib/api/types';
import { parseWatchParams } from '$lib/route-params';
import type { PageLoad } from './$types';

export const load = (({ params, url, fetch }) => {
	const parsed = parseWatchParams(params, url.searchParams);
	if (!parsed.ok) error(parsed.status, parsed.message);
	const key = parsed.value;
	// hls.js (its chunk is about 500 kB) loads while the streams resolve rather than after:
	// measured 50–90 ms later first frame without it. The player imports the same module.
	if (browser) void import('$lib/player/create-hls').catch(() => undefined);

	// Not awaited: the page shows the player (and its spinner) at once. Resolving the streams,
	// which can take seconds, is started by the page so that "Réessayer" can run it again.
	return {
		key,
		item: getLibraryItem(key.media_type, key.tmdb_id, { fetch }).catch((): LibraryItemDetail | null => null),
		saved: getProgress(key, { fetch }).catch((): SavedProgress | null => null)
	};
}) satisfies PageLoad;
