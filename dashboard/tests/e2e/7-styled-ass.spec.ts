// A styled ASS track keeps its position (issue 14, item 5): the library serves the ASS as is
// and the player draws it with libass (JASSUB) over the video. Movie 9145 (scripts/e2e.sh): a
// grey-only picture and one magenta `{\an8}` sign, whose style alone would put it at the bottom;
// the flattened WebVTT would show it at the bottom too, in white.
import type { Page } from '@playwright/test';
import { attachInfo, expect, expectNoFatal, expectPlays, servers, snap, test } from './support/fixtures';

test.use({ baseURL: servers.local });

/** Magenta pixels (the sign's colour) in the top and bottom thirds of the video's box. */
async function magenta(page: Page): Promise<{ top: number; middle: number; bottom: number }> {
	const png = await page.locator('[data-testid=player] video').screenshot();
	return page.evaluate(async (base64) => {
		const bytes = Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
		const bitmap = await createImageBitmap(new Blob([bytes], { type: 'image/png' }));
		const canvas = new OffscreenCanvas(bitmap.width, bitmap.height);
		const g = canvas.getContext('2d')!;
		g.drawImage(bitmap, 0, 0);
		const { data, width, height } = g.getImageData(0, 0, bitmap.width, bitmap.height);
		const counts = { top: 0, middle: 0, bottom: 0 };
		for (let i = 0; i < data.length; i += 4) {
			const [r, gr, b] = [data[i], data[i + 1], data[i + 2]];
			if (r < 180 || b < 180 || gr > 90) continue;
			const y = Math.floor(i / 4 / width);
			if (y < height / 3) counts.top++;
			else if (y < (2 * height) / 3) counts.middle++;
			else counts.bottom++;
		}
		return counts;
	}, png.toString('base64'));
}

test('a styled ASS line keeps its position and colour, drawn by libass over the video', async ({ page, request, consoleLines }, testInfo) => {
	// The library scan runs in the background; this film is not among those e2e.sh waits for.
	await expect
		.poll(async () => (await request.get('/api/streaming/library/movie/9145')).ok(), { timeout: 60_000 })
		.toBe(true);
	const workers: string[] = [];
	const wasm: string[] = [];
	page.on('worker', (worker) => workers.push(worker.url()));
	page.on('request', (r) => {
		if (r.url().endsWith('.wasm')) wasm.push(r.url());
	});
	await page.goto('/watch/movie/9145');
	await expectPlays(page, { from: 0, timeout: 45_000 });
	const before = await magenta(page);
	expect(before, 'no magenta on screen before the track is chosen').toEqual({ top: 0, middle: 0, bottom: 0 });

	// The CC button opens the subtitles page of the settings menu.
	await page.getByRole('button', { name: 'Sous-titres', exact: true }).click();
	await page.getByRole('button', { name: 'Anglais – Signs' }).click();
	await page.keyboard.press('Escape');

	await expect(page.locator('[data-testid=player] canvas.JASSUB')).toBeAttached();
	await expect.poll(async () => (await magenta(page)).top, { timeout: 30_000 }).toBeGreaterThan(300);
	const counts = await magenta(page);
	await attachInfo(testInfo, 'styled.json', { counts, workers, wasm });
	await snap(page, testInfo, 'styled-sign-at-the-top');
	expect(counts.bottom, 'nothing of the sign at the bottom').toBe(0);
	// libass draws it; the player's plain-text cues stay hidden.
	await expect(page.locator('[data-testid=player] .cues')).toHaveCount(0);
	// The renderer's worker and wasm come from our own build, under our CSP.
	const origin = new URL(page.url()).origin;
	expect(workers.some((url) => url.startsWith(`${origin}/_app/`) && /worker/.test(url)), workers.join()).toBe(true);
	expect(wasm.length).toBeGreaterThan(0);
	for (const url of wasm) expect(url.startsWith(`${origin}/_app/`), url).toBe(true);

	// Off (the `c` shortcut): the renderer and its canvas go away.
	await page.keyboard.press('c');
	await expect(page.locator('[data-testid=player] canvas.JASSUB')).toHaveCount(0);
	expectNoFatal(consoleLines);
});

test('when the ASS file cannot be loaded, the player falls back to the track’s WebVTT', async ({ page, request, consoleLines }, testInfo) => {
	await expect
		.poll(async () => (await request.get('/api/streaming/library/movie/9145')).ok(), { timeout: 60_000 })
		.toBe(true);
	await page.route('**/subtitles/*.ass*', (route) => route.fulfill({ status: 503, body: 'unavailable' }));
	await page.goto('/watch/movie/9145');
	await expectPlays(page, { from: 0, timeout: 45_000 });

	await page.getByRole('button', { name: 'Sous-titres', exact: true }).click();
	await page.getByRole('button', { name: 'Anglais – Signs' }).click();
	await page.keyboard.press('Escape');

	// The flattened cue, drawn by the player as plain text, and no libass canvas left.
	await expect(page.locator('[data-testid=player] .cues')).toHaveText('TOP SIGN');
	await expect(page.locator('[data-testid=player] canvas.JASSUB')).toHaveCount(0);
	expect(consoleLines.some((line) => line.includes('styled subtitles cannot be rendered')), consoleLines.join('\n')).toBe(true);
	await snap(page, testInfo, 'webvtt-fallback');
});
