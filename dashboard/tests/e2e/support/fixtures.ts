// Shared pieces of the browser end-to-end suite: the servers scripts/e2e.sh started, a console
// collector, and the proof that a <video> really plays.
import { writeFileSync } from 'node:fs';
import { test as base, expect, type APIRequestContext, type Locator, type Page, type TestInfo } from '@playwright/test';

function env(name: string): string {
	const value = process.env[name];
	if (!value) throw new Error(`${name} is not set: run the suite with scripts/e2e.sh`);
	return value;
}

/** Base URLs of the servers started by scripts/e2e.sh. */
export const servers = {
	/** sokoul serve with the demo library only. */
	get local() {
		return env('E2E_LOCAL_URL');
	},
	/** sokoul serve with the fake Consumet (and the demo library). */
	get remote() {
		return env('E2E_REMOTE_URL');
	},
	/** sokoul serve with the Stremio SDK addon only. */
	get stremio() {
		return env('E2E_STREMIO_URL');
	},
	/** The fake Consumet, also the CDN that wants `Referer: https://embed.example/e/1`. */
	get consumet() {
		return env('E2E_CONSUMET_URL');
	},
	/** sokoul serve with the demo library, SOKOUL_API_TOKEN = `token` and the admin `user`. */
	get secure() {
		return env('E2E_SECURE_URL');
	},
	get token() {
		return env('E2E_TOKEN');
	},
	/** sokoul serve with the demo library and no account yet (first run, profiles). */
	get household() {
		return env('E2E_HOUSEHOLD_URL');
	},
	/** The secure server's admin account (made by `sokoul user add` before it started). */
	get user() {
		return env('E2E_USER');
	},
	get password() {
		return env('E2E_PASSWORD');
	},
	/** sokoul serve with the two-language film and series only (11-languages.spec.ts). */
	get langs() {
		return env('E2E_LANGS_URL');
	},
	/** sokoul serve with the demo library, the fake Consumet and a fake TMDB (17-tmdb-search.spec.ts). */
	get search() {
		return env('E2E_SEARCH_URL');
	}
};

/**
 * Reports Content-Security-Policy violations as console lines (`[csp] directive blocked-uri`),
 * in addition to Chromium's own "Refused to … Content Security Policy" console errors.
 */
const reportCspViolations = () => {
	document.addEventListener('securitypolicyviolation', (event) => {
		console.error(`[csp] ${event.effectiveDirective} ${event.blockedURI || 'inline'}`);
	});
};

export const test = base.extend<{ consoleLines: string[] }>({
	// Every console message and page error, kept as console.txt next to the screenshots; `expectNoFatal` reads them.
	consoleLines: [
		async ({ page }, use, testInfo) => {
			const lines: string[] = [];
			await page.addInitScript(reportCspViolations);
			page.on('console', (message) => lines.push(`[${message.type()}] ${message.text()}`));
			page.on('pageerror', (error) => lines.push(`[pageerror] ${error.message}`));
			page.on('response', (response) => {
				if (response.status() >= 400) lines.push(`[http ${response.status()}] ${response.url()}`);
			});
			await use(lines);
			if (lines.length) {
				const path = testInfo.outputPath('console.txt');
				writeFileSync(path, lines.join('\n') + '\n');
				await testInfo.attach('console.txt', { path, contentType: 'text/plain' });
			}
		},
		{ auto: true }
	]
});
export { expect };

/** CSP violations seen (the server's policy blocked something the page tried). */
export function cspViolations(lines: readonly string[]): string[] {
	return lines.filter((line) => line.includes('[csp]') || line.includes('Content Security Policy'));
}

/**
 * The player logs fatal errors as `console.warn('[player]', …, 'FATAL')` (dashboard/README.md);
 * no page error and no Content-Security-Policy violation either.
 */
export function expectNoFatal(lines: readonly string[]): void {
	expect(lines.filter((line) => line.includes('FATAL'))).toEqual([]);
	expect(lines.filter((line) => line.startsWith('[pageerror]'))).toEqual([]);
	expect(cspViolations(lines)).toEqual([]);
}

/** Saved positions would make a title resume elsewhere than a test expects. */
export async function clearProgress(request: APIRequestContext, baseUrl: string): Promise<void> {
	const response = await request.get(`${baseUrl}/api/progress`);
	expect(response.ok()).toBeTruthy();
	const { items } = (await response.json()) as {
		items: { media_type: string; tmdb_id: number; season?: number | null; episode?: number | null }[];
	};
	for (const item of items) {
		const query = item.season != null ? `?season=${item.season}&episode=${item.episode}` : '';
		await request.delete(`${baseUrl}/api/progress/${item.media_type}/${item.tmdb_id}${query}`);
	}
}

export interface PlaybackInfo {
	currentTime: number;
	duration: number;
	width: number;
	height: number;
	frames: number;
	dropped: number;
	audioBytes: number;
	/** Luminance variance of the frame drawn to a canvas: 0 is a flat (black) picture. */
	variance: number;
	src: string;
}

export function videoInfo(page: Page): Promise<PlaybackInfo> {
	return page.evaluate(() => {
		const v = document.querySelector<HTMLVideoElement>('[data-testid=player] video')!;
		const quality = v.getVideoPlaybackQuality();
		const canvas = document.createElement('canvas');
		canvas.width = 64;
		canvas.height = 36;
		const g = canvas.getContext('2d', { willReadFrequently: true })!;
		g.drawImage(v, 0, 0, 64, 36);
		const data = g.getImageData(0, 0, 64, 36).data;
		let sum = 0;
		let sumSq = 0;
		const n = data.length / 4;
		for (let i = 0; i < data.length; i += 4) {
			const y = 0.299 * data[i] + 0.587 * data[i + 1] + 0.114 * data[i + 2];
			sum += y;
			sumSq += y * y;
		}
		const mean = sum / n;
		return {
			currentTime: v.currentTime,
			duration: v.duration,
			width: v.videoWidth,
			height: v.videoHeight,
			frames: quality.totalVideoFrames,
			dropped: quality.droppedVideoFrames,
			audioBytes: (v as HTMLVideoElement & { webkitAudioDecodedByteCount?: number }).webkitAudioDecodedByteCount ?? -1,
			variance: sumSq / n - mean * mean,
			src: v.currentSrc
		};
	});
}

export function currentTime(page: Page): Promise<number> {
	return page.evaluate(() => document.querySelector<HTMLVideoElement>('[data-testid=player] video')!.currentTime);
}

/**
 * Proof that the player plays: state `playing`, the clock `seconds` past where it started
 * (or past `from`), a decoded picture (videoWidth > 0, frames counted) that is not flat.
 */
export async function expectPlays(
	page: Page,
	options: { seconds?: number; from?: number; timeout?: number } = {}
): Promise<PlaybackInfo> {
	const { seconds = 2, timeout = 30_000 } = options;
	const player = page.getByTestId('player');
	await expect(player).toHaveAttribute('data-state', 'playing', { timeout });
	const from = options.from ?? (await currentTime(page));
	await page.waitForFunction(
		(target) => {
			const v = document.querySelector<HTMLVideoElement>('[data-testid=player] video');
			return (
				!!v && v.currentTime > target && v.videoWidth > 0 && v.getVideoPlaybackQuality().totalVideoFrames > 0
			);
		},
		from + seconds,
		{ timeout }
	);
	const info = await videoInfo(page);
	expect(info.width).toBeGreaterThan(0);
	expect(info.frames).toBeGreaterThan(0);
	expect(info.variance, 'the picture drawn from the video is not flat').toBeGreaterThan(100);
	return info;
}

/** The element a tap on the centre of `target` reaches is `target` itself (or inside it). */
export async function expectTappable(target: Locator): Promise<void> {
	await expect(target).toBeVisible();
	const hit = await target.evaluate((el) => {
		const box = el.getBoundingClientRect();
		const top = document.elementFromPoint(box.left + box.width / 2, box.top + box.height / 2);
		return { ok: !!top && el.contains(top), top: top ? `${top.tagName}.${top.className}` : 'nothing' };
	});
	expect(hit.ok, `the centre of the button reaches ${hit.top}`).toBe(true);
}

/** A screenshot kept with the test's artifacts (dashboard/test-results/…). */
export async function snap(page: Page, testInfo: TestInfo, name: string): Promise<void> {
	await page.screenshot({ path: testInfo.outputPath(`${name}.png`) });
}

/** Attaches the playback numbers to the report, for whoever reads a failure or a screenshot. */
export async function attachInfo(testInfo: TestInfo, name: string, value: unknown): Promise<void> {
	await testInfo.attach(name, { body: JSON.stringify(value, null, 2), contentType: 'application/json' });
}

/**
 * Makes the page's `<video>` answer "" for `types` (a regex over what `canPlayType` is asked),
 * as a browser without that demuxer does: the player then skips a library file of that type and
 * plays its HLS packaging. The demo library's episodes are H.264 + AAC MKVs, which Chromium plays
 * as they are; a test about the HLS path (hls.js, its worker, segment failures) refuses Matroska.
 */
export async function refuseFileTypes(page: Page, types: RegExp = /matroska/): Promise<void> {
	await page.addInitScript((source) => {
		const refused = new RegExp(source);
		const original = HTMLMediaElement.prototype.canPlayType;
		HTMLMediaElement.prototype.canPlayType = function (type: string) {
			return refused.test(type) ? '' : original.call(this, type);
		};
	}, types.source);
}
