// The watch page's first requests, started by a script inlined in index.html (`src/early.ts`,
// built into the page by `scripts/inline-early.mjs`) as soon as the HTML is parsed, rather than
// by the page's loader once the app's scripts have loaded: 0.3–0.5 s later on 2 cores
// (`scripts/bench-playback.sh` traces, docs/benchmarks.md). The resolve carries the browser's
// profile, so that the server starts packaging the first source then (`src/api/warm.rs`); the
// saved position comes with it, since the player starts only once it has both. The loader
// takes the responses through `earlyFetch`, so that errors, 401 included, go through the API
// client as always. Without the inline script (`npm run dev`), the loader asks itself.
import { ACCEPT_JSON, progressUrl, resolveUrl, type MediaKey } from './api/client';
import type { StreamSource } from './api/types';
import { browserProfile } from './player/capabilities';
import { playableHere } from './player/plays-here';
import { loadPreferences } from './player/preferences';
import { qualityMaxHeight } from './player/quality';

/** A request started before the app: when it started, its response. */
export interface EarlyRequest {
	startedAt: number;
	response: Promise<Response>;
}

declare global {
	interface Window {
		/** By URL, as the API client will ask it. */
		__sokoulEarly?: Record<string, EarlyRequest>;
	}
}

/**
 * Past this, an early answer is not taken: the page's loader runs well within it, and an
 * answer left unused (the login form came first) is not handed to a later visit.
 */
const FRESH_MS = 15_000;

/** The title of a watch URL, read strictly; anything else starts nothing (the loader judges it). */
export function earlyKey(pathname: string, search: string): MediaKey | null {
	const m = /^\/watch\/(movie|tv)\/([1-9]\d{0,8})$/.exec(pathname);
	if (!m) return null;
	const tmdb_id = Number(m[2]);
	if (m[1] === 'movie') return search === '' ? { media_type: 'movie', tmdb_id } : null;
	const q = /^\?season=(\d{1,6})&episode=(\d{1,6})$/.exec(search);
	return q ? { media_type: 'tv', tmdb_id, season: Number(q[1]), episode: Number(q[2]) } : null;
}

/** The profile the player will send (its quality setting included): the loader's too. */
export function watchProfile(): string {
	return browserProfile(undefined, { maxHeight: qualityMaxHeight(loadPreferences().quality) });
}

/** A `<link rel>` in the page's head: the browser fetches `href` (and, for a module, compiles it). */
function preload(target: Window, rel: 'modulepreload' | 'preload', href: string, as?: string): void {
	const link = target.document.createElement('link');
	link.rel = rel;
	link.href = href;
	if (as) link.as = as;
	target.document.head.append(link);
}

/**
 * Once the early resolve answers with an HLS source first, the player's modules (hls.js: 580 kB)
 * are fetched and compiled off the main thread (`modulepreload`) while the app boots, instead
 * of from the moment the player mounts: the chunk was asked 250–350 ms after the resolve's
 * answer and arrived 300 ms later on a busy 2-core machine (bench-playback traces). Not for a
 * file the `<video>` plays as it is, where 580 kB would only compete with the page.
 */
function preloadPlayerFor(resolve: Promise<Response>, target: Window, modules: readonly string[]): void {
	if (!target.document?.head || modules.length === 0) return;
	resolve
		// A copy of the body: the response itself is the loader's, read once through `earlyFetch`.
		.then((response) => (response.ok ? (response.clone().json() as Promise<{ sources?: StreamSource[] }>) : null))
		.then((answer) => {
			const first = playableHere(answer?.sources ?? [])[0];
			if (!first || first.type === 'mp4') return;
			for (const href of modules) preload(target, 'modulepreload', href);
		})
		.catch(() => {});
}

/** What this build's watch page loads, by URL (set by `scripts/inline-early.mjs`, see `src/early.ts`). */
export interface WatchAssets {
	/** The watch route's modules and the root error page's, which the router loads with it. */
	pageModules: readonly string[];
	/** Their stylesheets. */
	pageStyles: readonly string[];
	/** What the player imports for an HLS source (create-hls and hls.js). */
	playerModules: readonly string[];
}

const NO_ASSETS: WatchAssets = { pageModules: [], pageStyles: [], playerModules: [] };

/**
 * The watch page's own modules and styles are asked now, beside the resolve, rather than once the
 * router has started: the router asked them 100–150 ms after the app's entry, on a 2-core machine
 * busy with the app's start, and they came 250–300 ms later (bench-playback traces), while the
 * player could not mount without them.
 */
function preloadPage(target: Window, assets: WatchAssets): void {
	if (!target.document?.head) return;
	for (const href of assets.pageModules) preload(target, 'modulepreload', href);
	for (const href of assets.pageStyles) preload(target, 'preload', href, 'style');
}

/** Starts the first requests of the watch URL `location` is at, if it is one. */
export function startEarlyRequests(
	location: Pick<Location, 'pathname' | 'search'>,
	target: Window,
	doFetch: typeof fetch = fetch,
	now: () => number = () => performance.now(),
	assets: WatchAssets = NO_ASSETS
): void {
	const key = earlyKey(location.pathname, location.search);
	if (!key) return;
	const early: Record<string, EarlyRequest> = {};
	target.__sokoulEarly = early;
	const ask = (url: string) => {
		const response = doFetch(url, { credentials: 'same-origin', headers: ACCEPT_JSON });
		// Unused if the loader never runs; a failure is the loader's to see, through `earlyFetch`.
		response.catch(() => {});
		early[url] = { startedAt: now(), response };
	};
	// The saved position first: measuring the profile (a dozen `isTypeSupported`) is the first
	// use of the browser's media stack, 50–100 ms on a busy 2-core machine (bench-playback traces).
	ask(progressUrl(key));
	const resolve = resolveUrl(key, { profile: watchProfile() });
	ask(resolve);
	preloadPage(target, assets);
	preloadPlayerFor(early[resolve].response, target, assets.playerModules);
}

/** A fetch that answers an early request's URL with its response, once, while fresh. */
export function earlyFetch(
	target: Window,
	base: typeof fetch = fetch,
	now: () => number = () => performance.now()
): typeof fetch {
	return (input, init) => {
		const url = String(input);
		const early = target.__sokoulEarly?.[url];
		if (early) {
			delete target.__sokoulEarly![url];
			if (now() - early.startedAt <= FRESH_MS) return early.response;
		}
		return base(input, init);
	};
}
