// Time to first frame, navigation → first decoded frame shown, for the local library: a report
// (dashboard/test-results/ttff.json, docs/benchmarks.md "Browser"), not a timed assertion.
// `performance.now()` counts from the navigation start of a fresh page load; the first frame is
// the first `requestVideoFrameCallback` of the player's <video> (registered as soon as it exists).
// This file runs first (files run in name order), so each title's first sample is cold: nothing
// packaged yet for 604, nothing in the browser's cache (every sample gets a new context).
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { clearProgress, expect, expectPlays, servers, test } from './support/fixtures';

const RUNS = 4;

interface Sample {
	frame: number;
	playing: number | null;
	resolved: number | null;
}

const hook = () => {
	const w = window as unknown as { __ttff: Record<string, number> };
	w.__ttff = {};
	const seen = new WeakSet<HTMLVideoElement>();
	new MutationObserver(() => {
		const v = document.querySelector('video');
		if (!v || seen.has(v)) return;
		seen.add(v);
		v.addEventListener('playing', () => (w.__ttff.playing ??= performance.now()), { once: true });
		v.requestVideoFrameCallback((now) => (w.__ttff.frame ??= now));
	}).observe(document, { childList: true, subtree: true });
};

const median = (xs: number[]) => {
	const s = [...xs].sort((a, b) => a - b);
	return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const round = (x: number) => Math.round(x);

test('time to first frame (report)', async ({ browser, request }, testInfo) => {
	test.setTimeout(180_000);
	await clearProgress(request, servers.local);
	const titles = [
		{ name: 'movie 603: H.264/AAC MP4, direct play', path: '/watch/movie/603' },
		{ name: 'movie 604: HEVC/AC-3 MKV, transcoded to HLS', path: '/watch/movie/604' }
	];
	const results = [];
	for (const title of titles) {
		const samples: Sample[] = [];
		for (let run = 0; run < RUNS; run++) {
			// A new context each time: empty browser cache, as on a first visit.
			const context = await browser.newContext();
			const page = await context.newPage();
			await page.addInitScript(hook);
			await page.goto(`${servers.local}${title.path}`);
			await expectPlays(page, { from: 0, seconds: 0.5, timeout: 45_000 });
			const sample = await page.evaluate(() => {
				const w = window as unknown as { __ttff: Record<string, number> };
				const resolve = performance
					.getEntriesByType('resource')
					.find((e) => e.name.includes('/api/streaming/resolve/')) as PerformanceResourceTiming | undefined;
				return { frame: w.__ttff.frame, playing: w.__ttff.playing ?? null, resolved: resolve ? resolve.responseEnd : null };
			});
			expect(sample.frame).toBeGreaterThan(0);
			samples.push(sample);
			await context.close();
		}
		const frames = samples.map((s) => s.frame);
		results.push({
			title: title.name,
			path: title.path,
			// The first run may include server-side work later runs reuse (ffmpeg packaging cache).
			first_ms: round(frames[0]),
			median_ms: round(median(frames)),
			min_ms: round(Math.min(...frames)),
			max_ms: round(Math.max(...frames)),
			samples: samples.map((s) => ({
				first_frame_ms: round(s.frame),
				playing_event_ms: s.playing === null ? null : round(s.playing),
				resolve_done_ms: s.resolved === null ? null : round(s.resolved)
			}))
		});
	}
	const report = {
		measured_at: new Date().toISOString(),
		browser: `chromium ${browser.version()}`,
		runs_per_title: RUNS,
		target_ms: 1500,
		results
	};
	const json = JSON.stringify(report, null, 2);
	writeFileSync(join(testInfo.project.outputDir, 'ttff.json'), json);
	await testInfo.attach('ttff.json', { body: json, contentType: 'application/json' });
	for (const r of results) {
		console.log(`TTFF ${r.title}: median ${r.median_ms} ms (first ${r.first_ms}, min ${r.min_ms}, max ${r.max_ms})`);
	}
});
