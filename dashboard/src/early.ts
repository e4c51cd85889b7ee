// Inlined into index.html by scripts/inline-early.mjs: see lib/early-resolve.ts.
import { startEarlyRequests, type WatchAssets } from './lib/early-resolve';

/** The watch page's modules and styles in this build, set by scripts/inline-early.mjs from Vite's manifest. */
declare const __SOKOUL_WATCH_ASSETS__: WatchAssets;

try {
	startEarlyRequests(location, window, fetch, () => performance.now(), __SOKOUL_WATCH_ASSETS__);
} catch {
	// Never in the page's way: the loader resolves as it would without this script.
}
