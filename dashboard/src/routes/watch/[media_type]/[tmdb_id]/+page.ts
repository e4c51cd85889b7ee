import { browser } from '$app/environment';
import { error, redirect } from '@sveltejs/kit';
import { getLibraryItem, getProgress, getTitleProgress, resolveStreams } from '$lib/api/client';
import type { LibraryItemDetail, ProgressEntry, SavedProgress } from '$lib/api/types';
import { upNextEpisode, watchHref } from '$lib/media';
import { earlyFetch, watchProfile } from '$lib/early-resolve';
import { playableHere } from '$lib/player/plays-here';
import { watchResolves } from '$lib/prefetch';
import { parseTitleParams, parseWatchParams } from '$lib/route-params';
import type { PageLoad } from './$types';

/**
 * `/watch/tv/{id}` with no episode: the one "Regarder" would start (the unfinished one, else the
 * next), or S1·É1 for a series the library does not list.
 */
async function episodeToWatch(tmdb_id: number, fetch: typeof globalThis.fetch): Promise<string> {
	const [item, progress] = await Promise.all([
		getLibraryItem('tv', tmdb_id, { fetch }).catch((): LibraryItemDetail | null => null),
		getTitleProgress('tv', tmdb_id, { fetch }).catch((): ProgressEntry[] => [])
	]);
	const next = upNextEpisode(item?.seasons ?? [], progress) ?? { season: 1, episode: 1 };
	return watchHref({ media_type: 'tv', tmdb_id, season: next.season, episode: next.episode });
}

export const load = (async ({ params, url, fetch }) => {
	if (params.media_type === 'tv' && !url.searchParams.has('season') && !url.searchParams.has('episode')) {
		const title = parseTitleParams(params);
		if (title.ok) redirect(307, await episodeToWatch(title.value.tmdb_id, fetch));
	}
	const parsed = parseWatchParams(params, url.searchParams);
	if (!parsed.ok) error(parsed.status, parsed.message);
	const key = parsed.value;
	if (browser) {
		// Resolving the streams, which can take seconds, starts now, while the page's own
		// scripts load; the page takes the answer once mounted, and asks again on "Réessayer".
		// With the profile the player will send, so that the server starts packaging the
		// first source now (`src/api/warm.rs`); started earlier still by the page's inline
		// script when the page was loaded at this URL (`early-resolve.ts`), as is the saved
		// position below.
		const profile = watchProfile();
		const resolving = watchResolves.start(watchHref(key), () =>
			resolveStreams(key, { profile, fetch: earlyFetch(window) })
		);
		// hls.js and its worker script load as soon as the answer says the first source needs
		// them (hls.js earlier still when the inline script preloaded it), rather than when the player asks (measured: 50–70 ms before the master
		// playlist; the worker is otherwise fetched once the first segment is in). Not for a
		// file the <video> plays as it is: parsing 580 kB of hls.js on the main thread while
		// the player mounted delayed a direct play's first frame (bench-playback traces). A
		// fallback to an HLS source imports it then.
		void resolving
			.then(
				(answer) => playableHere(answer.sources)[0]?.type !== 'mp4',
				() => true
			)
			.then(async (hls) => {
				if (hls) (await import('$lib/player/create-hls')).warmWorker();
			})
			.catch(() => undefined);
	}

	// Not awaited: the page shows the player (and its spinner) at once.
	return {
		key,
		/** `?start=0` ("Lire depuis le début"): the saved position is not offered. */
		fromStart: url.searchParams.get('start') === '0',
		item: getLibraryItem(key.media_type, key.tmdb_id, { fetch }).catch((): LibraryItemDetail | null => null),
		saved: getProgress(key, { fetch: browser ? earlyFetch(window, fetch) : fetch }).catch(
			(): SavedProgress | null => null
		)
	};
}) satisfies PageLoad;
