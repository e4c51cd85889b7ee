// Inlined into index.html by scripts/inline-early.mjs: see lib/early-resolve.ts.
import { startEarlyRequests, type EarlyAssets } from './lib/early-resolve';

/** Replaced by scripts/inline-early.mjs with the files it read from Vite's manifest. */
declare const __SOKOUL_EARLY_ASSETS__: EarlyAssets;

try {
	startEarlyRequests(location, window, { assets: __SOKOUL_EARLY_ASSETS__ });
} catch {
	// Never in the page's way: the loader resolves as it would without this script.
}
