// A watch URL opened directly: the page's inline script (src/lib/early-resolve.ts, inlined by
// scripts/inline-early.mjs) asks the resolve with the player's profile while the HTML is parsed,
// so the server starts packaging the first source (src/api/warm.rs) before the app has loaded;
// the page's loader takes that answer instead of asking again. How much sooner the film starts is
// measured by scripts/bench-playback.sh (docs/benchmarks.md), not asserted here.
import { clearProgress, expect, expectNoFatal, expectPlays, servers, test } from './support/fixtures';

test('a watch URL opened directly is resolved once, before the app loads, with the profile and the saved position', async ({
	page,
	request,
	consoleLines
}) => {
	await clearProgress(request, servers.local);
	const resolves: string[] = [];
	const positions: string[] = [];
	page.on('request', (r) => {
		if (r.url().includes('/api/streaming/resolve/')) resolves.push(r.url());
		if (r.method() === 'GET' && r.url().includes('/api/progress/movie/604')) positions.push(r.url());
	});
	// 604: the HEVC film, packaged by the engine for this browser.
	await page.goto(`${servers.local}/watch/movie/604`);
	await expectPlays(page, { from: 0, seconds: 1, timeout: 45_000 });

	// Asked once each: the loader took the inline script's answers.
	expect(resolves).toHaveLength(1);
	expect(positions).toHaveLength(1);
	const url = new URL(resolves[0]);
	expect(url.pathname).toBe('/api/streaming/resolve/movie/604');
	// What this Chromium decodes, as the player's master playlist request carries it.
	expect(url.searchParams.get('profile')).toMatch(/^1:avc,.*\bvp9\b.*\baac\b/);
	// The inline script asks the resolve first, then the watch route's modules (the root
	// layout's are preloaded by the HTML as served), which the router would otherwise ask only
	// once the app runs.
	const html = await (await request.get(`${servers.local}/watch/movie/604`)).text();
	const preloaded = [...html.matchAll(/href="([^"]+)" rel="modulepreload"/g)].map((m) => m[1]);
	expect(preloaded.length).toBeGreaterThan(0);
	const started = await page.evaluate((preloaded) => {
		const entries = performance.getEntriesByType('resource');
		const route = entries.find(
			(e) => e.name.includes('/_app/immutable/nodes/') && !preloaded.some((p) => e.name.endsWith(p))
		);
		const resolve = entries.find((e) => e.name.includes('/api/streaming/resolve/'));
		return { resolve: resolve?.startTime ?? null, route: route?.startTime ?? null };
	}, preloaded);
	expect(started.resolve).not.toBeNull();
	expect(started.route).not.toBeNull();
	expect(started.resolve!).toBeLessThan(started.route!);

	// Added by the inline script (modulepreloads the served HTML does not have, by path: Vite's
	// own, added later as the app imports routes, are absolute URLs): the watch route's module and
	// the error page's at once, and, since the answer's first source is HLS, the player's hls.js
	// chunk (the only one over 300 kB), fetched before the player's first playlist.
	const player = await page.evaluate((preloaded) => {
		const added = [...document.querySelectorAll<HTMLLinkElement>('link[rel="modulepreload"]')]
			.map((l) => l.getAttribute('href')!)
			.filter((href) => href.startsWith('/') && !preloaded.includes(href));
		const entries = performance.getEntriesByType('resource') as PerformanceResourceTiming[];
		const chunk = entries.find((e) => added.some((href) => e.name.endsWith(href)) && e.encodedBodySize > 300_000);
		const master = entries.find((e) => e.name.includes('/hls/master.m3u8'));
		return {
			nodes: added.filter((href) => href.includes('/_app/immutable/nodes/')).length,
			chunk: chunk?.startTime ?? null,
			master: master?.startTime ?? null
		};
	}, preloaded);
	expect(player.nodes).toBe(2);
	expect(player.chunk).not.toBeNull();
	expect(player.master).not.toBeNull();
	expect(player.chunk!).toBeLessThan(player.master!);
	expectNoFatal(consoleLines);
});
