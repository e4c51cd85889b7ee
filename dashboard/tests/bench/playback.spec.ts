// Playback benchmark in Chromium, driven by scripts/bench-playback.sh (which generates the films,
// starts the servers and prints the table); not part of the e2e suite (playwright.bench.config.ts).
//
// Every sample is cold: before it, BENCH_RESET restarts `sokoul serve` with an empty segment
// cache (so nothing is packaged, no probe is cached, no ffmpeg of the previous sample still
// runs), the title's saved position is cleared, and the page gets a new browser context.
// First frame: `performance.now()` of a fresh page load counts from the navigation start; the
// frame is the first `requestVideoFrameCallback` of the player's <video> whose `mediaTime` is
// past the start (a picture of the film shown, the clock running). A seek sample, once the film
// plays, sets the <video>'s `currentTime` (what the player's own seek does) and waits for the
// first frame shown at the target.
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { expect, test } from '@playwright/test';

interface Case {
	/** Row name in the table. */
	name: string;
	tmdb: number;
	/** Seek to this fraction of the duration once playing, and measure that instead. */
	seek?: number;
}

interface Sample {
	/** Navigation → first frame of the film (ms). */
	frame: number;
	/** Seek → first frame at the target (ms), for a seek case. */
	seek: number | null;
	/** Navigation → the resolve asked, answered, hls.js's worker loaded, the master playlist, the first video segment (ms). */
	app: number | null;
	resolve: number | null;
	worker: number | null;
	master: number | null;
	segment: number | null;
	/** The engine's decision (`com.sokoul.playback.mode`), or `direct_play` for a file URL. */
	mode: string;
	/** Every request of the page: path, start, first byte, end (ms from navigation). */
	trace: [string, number, number, number][];
}

const cases = JSON.parse(readFileSync(process.env.BENCH_CASES!, 'utf8')) as Case[];
const runs = Number(process.env.BENCH_RUNS ?? 5);
const base = process.env.BENCH_URL!;

// Registered before any page script: timestamps of the player's <video> frames and events.
const hook = () => {
	const w = window as unknown as { __bench: { frame?: number; seekAt?: number; seekFrame?: number; target?: number } };
	w.__bench = {};
	const seen = new WeakSet<HTMLVideoElement>();
	const watch = (v: HTMLVideoElement) => {
		const onFrame = (now: number, meta: VideoFrameCallbackMetadata) => {
			const b = w.__bench;
			if (b.frame === undefined && meta.mediaTime > 0) b.frame = now;
			// The first frame shown at the seek target (a frame lasts at most 0.5 s in these films).
			if (b.target !== undefined && b.seekFrame === undefined && Math.abs(meta.mediaTime - b.target) < 1) {
				b.seekFrame = now;
			}
			v.requestVideoFrameCallback(onFrame);
		};
		v.requestVideoFrameCallback(onFrame);
		for (const e of ['loadedmetadata', 'loadeddata', 'canplay', 'play', 'playing', 'waiting']) {
			v.addEventListener(e, () => ((w.__bench as Record<string, number>)['ev:' + e] ??= performance.now()));
		}
	};
	new MutationObserver(() => {
		const v = document.querySelector('video');
		if (v && !seen.has(v)) {
			seen.add(v);
			watch(v);
		}
	}).observe(document, { childList: true, subtree: true });
};

async function sample(c: Case, browser: import('@playwright/test').Browser): Promise<Sample> {
	execFileSync(process.env.BENCH_RESET!, { stdio: 'inherit', timeout: 120_000 });
	const context = await browser.newContext();
	// A saved position would make the film resume elsewhere (a seek sample saves one). The
	// context's own client: a pooled connection would be to the server just stopped.
	await context.request.delete(`${base}/api/progress/movie/${c.tmdb}`);
	const page = await context.newPage();
	let mode = 'direct_play';
	page.on('response', async (r) => {
		if (r.url().includes('/master.m3u8') && r.ok()) {
			const m = /com\.sokoul\.playback\.mode",VALUE="([a-z_]+)"/.exec(await r.text());
			if (m) mode = m[1];
		}
	});
	await page.addInitScript(hook);
	await page.goto(`${base}/watch/movie/${c.tmdb}`);
	await page.waitForFunction(() => (window as unknown as { __bench: { frame?: number } }).__bench.frame !== undefined, null, {
		timeout: 60_000
	});
	let seek: number | null = null;
	if (c.seek !== undefined) {
		seek = await page.evaluate(async (fraction) => {
			const v = document.querySelector<HTMLVideoElement>('[data-testid=player] video')!;
			const b = (window as unknown as { __bench: { seekAt?: number; seekFrame?: number; target?: number } }).__bench;
			// Playing for a moment first, as a viewer who starts then jumps.
			while (v.currentTime < 1) await new Promise((r) => setTimeout(r, 50));
			b.target = v.duration * fraction;
			b.seekAt = performance.now();
			v.currentTime = b.target;
			const deadline = b.seekAt + 60_000;
			while (b.seekFrame === undefined && performance.now() < deadline) await new Promise((r) => setTimeout(r, 20));
			return b.seekFrame === undefined ? null : b.seekFrame - b.seekAt;
		}, c.seek);
		expect(seek, `${c.name}: a frame at the seek target`).not.toBeNull();
	}
	const timings = await page.evaluate(() => {
		const entry = (re: RegExp) =>
			performance.getEntriesByType('resource').find((r) => re.test(r.name)) as PerformanceResourceTiming | undefined;
		const end = (re: RegExp) => entry(re)?.responseEnd ?? null;
		return {
			frame: (window as unknown as { __bench: { frame: number } }).__bench.frame,
			// Until the resolve is asked: the page and its scripts loaded and started.
			app: entry(/\/api\/streaming\/resolve\//)?.startTime ?? null,
			resolve: end(/\/api\/streaming\/resolve\//),
			// hls.js's worker script loaded: hls.js fetches it once started, beside the playlists.
			worker: end(/hls\.worker\./),
			master: end(/\/master\.m3u8/),
			segment: end(/\/v\/(init\.mp4|\d+\.(ts|m4s))|\/api\/media\/\d+\/file/),
			trace: (performance.getEntriesByType('resource') as PerformanceResourceTiming[]).map(
				(r): [string, number, number, number] => [
					new URL(r.name).pathname.slice(-60),
					Math.round(r.startTime),
					Math.round(r.responseStart),
					Math.round(r.responseEnd)
				]
			).concat(
				Object.entries((window as unknown as { __bench: Record<string, number> }).__bench)
					.filter(([k]) => k.startsWith('ev:'))
					.map(([k, t]): [string, number, number, number] => [k, Math.round(t), 0, 0])
			)
		};
	});
	await context.close();
	return { ...timings, seek, mode };
}

test('playback benchmark', async ({ browser }) => {
	const results: { name: string; samples: Sample[] }[] = [];
	for (const c of cases) {
		const samples: Sample[] = [];
		for (let run = 0; run < runs; run++) {
			const s = await sample(c, browser);
			console.log(`${c.name} #${run + 1}: frame ${Math.round(s.frame)} ms${s.seek === null ? '' : `, seek ${Math.round(s.seek)} ms`} (${s.mode})`);
			if (process.env.BENCH_TRACE) for (const t of s.trace) console.log(`  ${t[1]}\t${t[2]}\t${t[3]}\t${t[0]}`);
			samples.push(s);
		}
		results.push({ name: c.name, samples });
	}
	writeFileSync(process.env.BENCH_OUT!, JSON.stringify({ browser: `chromium ${browser.version()}`, runs, results }, null, 2));
});
