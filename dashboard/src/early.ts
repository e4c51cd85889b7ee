// Inlined into index.html by scripts/inline-early.mjs: see lib/early-resolve.ts.
import { startEarlyRequests } from './lib/early-resolve';

/** The player's HLS modules in this build, set by scripts/inline-early.mjs from Vite's manifest. */
declare const __SOKOUL_HLS_MODULES__: string[];

try {
	startEarlyRequests(location, window, fetch, () => performance.now(), __SOKOUL_HLS_MODULES__);
} catch {
	// Never in the page's way: the loader resolves as it would without this script.
}
