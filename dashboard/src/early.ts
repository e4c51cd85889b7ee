// Inlined into index.html by scripts/inline-early.mjs: see lib/early-resolve.ts.
import { startEarlyRequests } from './lib/early-resolve';

try {
	startEarlyRequests(location, window);
} catch {
	// Never in the page's way: the loader resolves as it would without this script.
}
