// What the playback engine does to the picture, seen from Debian's headless Chromium (an SDR
// screen: its profile declares no `hdr`), on the "picture" server scripts/e2e.sh starts:
//   movie 907: HDR10 (HEVC Main10, PQ + BT.2020) made from a known 2×2 colour pattern;
//   movie 908: an interlaced MPEG-2 TS (woven fields);
//   movie 550: a 60 s H.264 + AC-3 Matroska film on a Referer-checking origin with byte ranges,
//              listed by the real stremio-addon-sdk addon (tests/stremio-addon) as `notWebReady`.
// The segments checked are the ones the player itself requested, fetched again and read by
// ffprobe / ffmpeg `idet` (docs/playback.md says what each source gets).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { APIRequestContext, Page, TestInfo } from '@playwright/test';
import type { ResolveResponse } from '../../src/lib/api/types';
import { currentTime, expect, expectNoFatal, expectPlays, snap, test } from './support/fixtures';

function env(name: string): string {
	const value = process.env[name];
	if (!value) throw new Error(`${name} is not set: run the suite with scripts/e2e.sh`);
	return value;
}

const picture = () => env('E2E_PICTURE_URL');

/** Numbers kept as a file beside the screenshots (test-results/…), and attached to the report. */
async function keep(testInfo: TestInfo, name: string, value: unknown): Promise<void> {
	const path = testInfo.outputPath(name);
	writeFileSync(path, JSON.stringify(value, null, 2));
	await testInfo.attach(name, { path, contentType: 'application/json' });
}

test.use({ baseURL: process.env.E2E_PICTURE_URL });

/** The video rendition's URLs (playlist, init, segments) the page requests, queries included. */
function recordVideoRendition(page: Page): string[] {
	const urls: string[] = [];
	page.on('request', (r) => {
		if (/\/api\/(?:media\/\d+\/hls|playback\/r\/[^/]+)\/v\//.test(r.url())) urls.push(r.url());
	});
	return urls;
}

/**
 * The first `count` media segments of the video rendition the player fetched, each as one
 * playable file (the init segment first for fMP4), written to a temporary folder.
 */
async function fetchedSegments(request: APIRequestContext, urls: readonly string[], count: number): Promise<string[]> {
	const init = urls.find((u) => /\/v\/init\.mp4/.test(u));
	const segments = [...new Set(urls.filter((u) => /\/v\/\d+\.(?:m4s|ts)/.test(u)))].slice(0, count);
	expect(segments.length, `segments requested: ${urls.join('\n')}`).toBeGreaterThan(0);
	const head = init ? await (await request.get(init)).body() : Buffer.alloc(0);
	const dir = mkdtempSync(join(tmpdir(), 'sokoul-e2e-picture-'));
	const files: string[] = [];
	for (const [i, url] of segments.entries()) {
		const response = await request.get(url);
		expect(response.status(), url).toBe(200);
		const file = join(dir, `segment-${i}${init ? '.mp4' : '.ts'}`);
		writeFileSync(file, Buffer.concat([head, await response.body()]));
		files.push(file);
	}
	return files;
}

function ffprobeVideo(file: string): Record<string, string | number> {
	const out = execFileSync('ffprobe', ['-v', 'error', '-select_streams', 'v:0', '-show_streams', '-of', 'json', file]);
	return JSON.parse(out.toString()).streams[0];
}

/** ffmpeg `idet`'s multi-frame verdict over a file: frames read as interlaced and as progressive. */
function idet(file: string): { interlaced: number; progressive: number } {
	// ffmpeg logs to stderr, and execFileSync returns stdout: a shell joins the two.
	const log = execFileSync('sh', ['-c', 'ffmpeg -hide_banner -nostdin -i "$1" -an -vf idet -f null - 2>&1', 'sh', file]).toString();
	const m = /Multi frame detection:\s*TFF:\s*(\d+)\s*BFF:\s*(\d+)\s*Progressive:\s*(\d+)/.exec(log);
	if (!m) throw new Error(`no idet summary for ${file}: ${log}`);
	return { interlaced: Number(m[1]) + Number(m[2]), progressive: Number(m[3]) };
}

/** RGB averaged over a 9×9 square at each point (fractions of the picture), from a PNG. */
async function samplePng(page: Page, png: Buffer, points: [number, number][]): Promise<number[][]> {
	// Decoded by Chromium itself, in a blank page (the app's CSP does not apply there).
	const blank = await page.context().newPage();
	try {
		return await blank.evaluate(
			async ({ b64, points }) => {
				const img = new Image();
				img.src = `data:image/png;base64,${b64}`;
				await img.decode();
				const canvas = document.createElement('canvas');
				canvas.width = img.width;
				canvas.height = img.height;
				const g = canvas.getContext('2d', { willReadFrequently: true })!;
				g.drawImage(img, 0, 0);
				return points.map(([x, y]) => {
					const d = g.getImageData(Math.round(x * img.width) - 4, Math.round(y * img.height) - 4, 9, 9).data;
					const sum = [0, 0, 0];
					for (let i = 0; i < d.length; i += 4) for (let c = 0; c < 3; c++) sum[c] += d[i + c];
					return sum.map((s) => Math.round(s / (d.length / 4)));
				});
			},
			{ b64: png.toString('base64'), points }
		);
	} finally {
		await blank.close();
	}
}

// The pattern scripts/e2e.sh converts to HDR10 (SDR white at 100 nits), quadrant by quadrant.
const PATTERN: { name: string; at: [number, number]; rgb: [number, number, number] }[] = [
	{ name: 'grey', at: [0.25, 0.25], rgb: [0xb4, 0xb4, 0xb4] },
	{ name: 'red', at: [0.75, 0.25], rgb: [0xc8, 0x32, 0x32] },
	{ name: 'green', at: [0.25, 0.75], rgb: [0x32, 0xa0, 0x32] },
	{ name: 'blue', at: [0.75, 0.75], rgb: [0x32, 0x32, 0xc8] }
];

/** Each channel over the brightest: the colour's hue and saturation, whatever its brightness. */
const chroma = (rgb: number[]) => rgb.map((c) => c / Math.max(1, ...rgb));

test('an HDR10 film is tone-mapped for an SDR screen: BT.709 8-bit segments that keep the pattern’s colours', async ({
	page,
	request,
	consoleLines
}, testInfo) => {
	const urls = recordVideoRendition(page);
	await page.goto('/watch/movie/907');
	const info = await expectPlays(page, { from: 0, timeout: 60_000 });
	for (const url of urls) expect(new URL(url).searchParams.get('profile'), url).not.toMatch(/\bhdr\b/);

	const [segment] = await fetchedSegments(request, urls, 1);
	const stream = ffprobeVideo(segment);
	await keep(testInfo, 'playback.json', { info, urls, stream });
	expect(stream.codec_name).toBe('h264');
	expect(stream.pix_fmt, '8-bit 4:2:0').toBe('yuv420p');
	expect(stream.color_transfer).toBe('bt709');
	expect(stream.color_primaries).toBe('bt709');

	// The controls hide after a few seconds of playing without the mouse moving: then the
	// picture is all there is to see.
	const player = page.getByTestId('player');
	await expect(player).toHaveClass(/\bidle\b/, { timeout: 15_000 });
	await expect(player).toHaveAttribute('data-state', 'playing');
	const video = page.locator('[data-testid=player] video');
	const shot = await video.screenshot({ path: testInfo.outputPath('picture.png') });
	await snap(page, testInfo, 'playing');
	// Where the picture sits in the element (object-fit: contain), as fractions of the element.
	const box = (await video.boundingBox())!;
	const scale = Math.min(box.width / info.width, box.height / info.height);
	const [w, h] = [(info.width * scale) / box.width, (info.height * scale) / box.height];
	const points = PATTERN.map(({ at: [x, y] }) => [(1 - w) / 2 + x * w, (1 - h) / 2 + y * h] as [number, number]);
	const seen = await samplePng(page, shot, points);
	await keep(testInfo, 'pixels.json', PATTERN.map((p, i) => ({ ...p, seen: seen[i] })));
	for (const [i, { name, rgb }] of PATTERN.entries()) {
		// Hable tone-mapping darkens SDR-white content to about two thirds (measured: 0.65) and
		// keeps hue and saturation; PQ shown as if it were BT.709 (no tone-map) is washed out
		// (red 103,66,52 for 200,50,50), and a broken chain is black.
		const ratio = Math.max(...seen[i]) / Math.max(...rgb);
		expect(ratio, `${name} ${seen[i]}: not black, not blown out`).toBeGreaterThan(0.45);
		expect(ratio, `${name} ${seen[i]}: not black, not blown out`).toBeLessThan(1.15);
		const want = chroma(rgb);
		chroma(seen[i]).forEach((c, k) => expect(Math.abs(c - want[k]), `${name} ${seen[i]} vs ${rgb}: hue and saturation`).toBeLessThan(0.15));
	}
	expectNoFatal(consoleLines);
});

test('an interlaced recording reaches the player progressive (ffmpeg idet on the segments it fetched)', async ({
	page,
	request,
	consoleLines
}, testInfo) => {
	const folder = join(env('E2E_PICTURE_DIR'), 'library', 'Sokoul Interlaced (2024) [tmdbid-908]');
	const source = join(folder, readdirSync(folder).find((f) => f.endsWith('.ts'))!);
	const before = idet(source);
	expect(before.interlaced, `the source itself: ${JSON.stringify(before)}`).toBeGreaterThan(before.progressive);

	const urls = recordVideoRendition(page);
	await page.goto('/watch/movie/908');
	const info = await expectPlays(page, { from: 0, timeout: 60_000 });
	await snap(page, testInfo, 'playing');
	const files = await fetchedSegments(request, urls, 3);
	const after = files.map((f) => idet(f));
	await keep(testInfo, 'playback.json', { info, urls, source: before, segments: after });
	const interlaced = after.reduce((n, r) => n + r.interlaced, 0);
	const progressive = after.reduce((n, r) => n + r.progressive, 0);
	// idet calls the first few frames of each file interlaced while its history fills (measured:
	// 4 of 50 in a 2 s segment of this clean progressive picture); the source itself reads
	// 300 interlaced, 0 progressive: a combed picture would be the other way round.
	expect(progressive, `idet: ${interlaced} interlaced, ${progressive} progressive`).toBeGreaterThan(5 * Math.max(1, interlaced));
	for (const f of files) rmSync(f, { force: true });
	expectNoFatal(consoleLines);
});

test('a remote MKV listed by the SDK addon plays through the engine and seeks', async ({ page, request, consoleLines }, testInfo) => {
	const resolved = (await (await request.get(`${picture()}/api/streaming/resolve/movie/550`)).json()) as ResolveResponse;
	await keep(testInfo, 'resolve.json', resolved);
	expect(resolved.sources.length).toBeGreaterThan(0);
	expect(resolved.sources[0].provider).toBe('stremio');
	expect(resolved.sources[0].type).toBe('hls');
	expect(resolved.sources[0].proxy_url, 'an engine source, not the file itself').toMatch(/^\/api\/playback\/r\//);

	const origin = new URL(env('E2E_PICTURE_ORIGIN'));
	const direct: string[] = [];
	page.on('request', (r) => {
		if (new URL(r.url()).host === origin.host) direct.push(r.url());
	});
	await page.goto('/watch/movie/550');
	const info = await expectPlays(page, { from: 0, timeout: 60_000 });
	expect(info.duration).toBeGreaterThan(55);
	await snap(page, testInfo, 'playing');

	const target = info.duration * 0.6;
	await page.evaluate((t) => {
		document.querySelector<HTMLVideoElement>('[data-testid=player] video')!.currentTime = t;
	}, target);
	await page.waitForFunction(
		(t) => {
			const v = document.querySelector<HTMLVideoElement>('[data-testid=player] video')!;
			return !v.seeking && !v.paused && v.currentTime > t + 2;
		},
		target,
		{ timeout: 60_000 }
	);
	const after = await currentTime(page);
	await snap(page, testInfo, 'after-seek');

	const log = env('E2E_PICTURE_ORIGIN_LOG');
	const requests = readFileSync(log, 'utf8')
		.split('\n')
		.filter(Boolean)
		.map((l) => JSON.parse(l) as { path: string; range: string | null; referer: string | null; status: number });
	await keep(testInfo, 'origin.json', { after, requests, direct });
	expect(direct, 'the browser never talks to the origin itself').toEqual([]);
	const film = requests.filter((r) => r.path === '/films/film.mkv');
	expect(film.length).toBeGreaterThan(0);
	for (const r of film) {
		expect(r.referer, 'the Referer the addon asked for, injected by the proxy').toBe('https://embed.example/e/1');
		expect(r.range, 'every read is a Range request').toMatch(/^bytes=\d+-/);
		expect(r.status).toBeLessThan(400);
	}
	// No assertion on where the ranges start: a remux of this small film reads ahead of the
	// player (measured: one `bytes=0-` read per probe and job), so the seek is served from
	// segments already made; a seek past the job restarts it with `-ss`, a Range read.
	expectNoFatal(consoleLines);
});
