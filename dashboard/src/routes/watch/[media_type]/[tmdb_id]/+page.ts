import { browser } from '$app/environment';
import { error } from '@sveltejs/kit';
import { getLibraryItem, getProgress, resolveStreams } from '$lib/api/client';
import type { LibraryItemDetail, SavedProgress } from '$lib/api/types';
import { watchHref } from '$lib/media';
import { watchResolves } from '$lib/prefetch';
import { parseWatchParams } from '$lib/route-params';
import type { PageLoad } from './$types';

export const load = (({ params, url, fetch }) => {
	const parsed = parseWatchParams(params, url.searchParams);
	if (!parsed.ok) error(parsed.status, parsed.message);
	const key = parsed.value;
	if (browser) {
		// hls.js loads while the streams resolve rather than after them (measured: its chunk
		// was asked for once the resolve had answered, 50–70 ms before the master playlist).
		// The player imports the same module.
		// Its worker script too, which hls.js would only ask for once the first segment is in.
		void import('$lib/player/create-hls').then((m) => m.warmWorker(), () => undefined);
		// Resolving the streams, which can take seconds, starts now, while the page's own
		// scripts load; the page takes the answer once mounted, and asks again on "Réessayer".
		watchResolves.start(watchHref(key), () => resolveStreams(key));
	}

	// Not awaited: the page shows the player (and its spinner) at once.
	return {
		key,
		item: getLibraryItem(key.media_type, key.tmdb_id, { fetch }).catch((): LibraryItemDetail | null => null),
		saved: getProgress(key, { fetch }).catch((): SavedProgress | null => null)
	};
}) satisfies PageLoad;
