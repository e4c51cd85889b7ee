// Image subtitles in Debian's Chromium (docs/playback.md): a browser cannot draw a DVD (VobSub)
// subpicture, so the player offers it "burned in" and, when chosen, reloads the library stream
// with `burn=` at the same position; the server burns it into a transcode. Film made by
// scripts/e2e.sh: movie 960 = H.264 + AAC in Matroska whose bottom band is dark, with a
// subpicture (a white bar, x 100–620, y 400–440 of the 720x480 picture) shown the whole film.
import { attachInfo, expect, expectNoFatal, expectPlays, servers, snap, test } from './support/fixtures';
import { writeFileSync } from 'node:fs';
import type { Page } from '@playwright/test';

test.use({ baseURL: servers.local });

/** Mean luma of the subtitle bar's region of the frame the <video> shows now, at its own size. */
function barLuma(page: Page): Promise<number> {
	return page.evaluate(() => {
		const v = document.querySelector<HTMLVideoElement>('[data-testid=player] video')!;
		const canvas = document.createElement('canvas');
		canvas.width = v.videoWidth;
		canvas.height = v.videoHeight;
		const g = canvas.getContext('2d', { willReadFrequently: true })!;
		g.drawImage(v, 0, 0);
		// The bar's region in a 720x480 picture, scaled to what the stream delivers.
		const sx = v.videoWidth / 720;
		const sy = v.videoHeight / 480;
		const data = g.getImageData(110 * sx, 405 * sy, 500 * sx, 30 * sy).data;
		let sum = 0;
		for (let i = 0; i < data.length; i += 4) sum += 0.299 * data[i] + 0.587 * data[i + 1] + 0.114 * data[i + 2];
		return sum / (data.length / 4);
	});
}

/** Until the bar's region is bright (`lit`) or dark, on frames the player keeps playing. */
async function expectBar(page: Page, lit: boolean): Promise<number> {
	let luma = NaN;
	await expect
		.poll(
			async () => {
				luma = await barLuma(page);
				return lit ? luma > 150 : luma < 60;
			},
			{ timeout: 60_000, intervals: [250] }
		)
		.toBe(true);
	return luma;
}

async function pickSubtitle(page: Page, name: string | RegExp): Promise<void> {
	await page.mouse.move(640, 360);
	await page.getByRole('button', { name: 'Sous-titres', exact: true }).click();
	await page.getByRole('dialog').getByRole('button', { name }).click();
	await page.keyboard.press('Escape');
}

test('an image subtitle is burned into the picture when chosen, and gone when turned off', async ({
	page,
	request,
	consoleLines
}, testInfo) => {
	// The library scan runs in the background: wait for the film to be resolvable.
	await expect
		.poll(async () => (await (await request.get('/api/streaming/library/movie/960')).json()).sources?.length ?? 0, {
			timeout: 60_000
		})
		.toBeGreaterThan(0);
	const masters: string[] = [];
	page.on('request', (r) => {
		if (r.url().includes('/hls/master.m3u8')) masters.push(r.url());
	});
	await page.goto('/watch/movie/960');
	await expectPlays(page, { from: 0, timeout: 45_000 });
	const off = await expectBar(page, false);
	await snap(page, testInfo, 'subtitles-off');

	await pickSubtitle(page, /\(incrustés\)$/);
	await expectPlays(page, { timeout: 60_000 });
	const burned = await expectBar(page, true);
	const at = await page.evaluate(() => document.querySelector('video')!.currentTime);
	await snap(page, testInfo, 'burned-in');
	expect(new URL(masters.at(-1)!).searchParams.get('burn'), 'the stream reloaded with the burn').toBe('i0');
	expect(at, 'picked up where it was, not from the start').toBeGreaterThan(2);

	await pickSubtitle(page, 'Désactivés');
	await expectPlays(page, { timeout: 60_000 });
	const offAgain = await expectBar(page, false);
	await snap(page, testInfo, 'subtitles-off-again');
	expect(new URL(masters.at(-1)!).searchParams.get('burn'), 'back to the unburned stream').toBeNull();

	const numbers = { off, burned, offAgain, burnedAt: at, masters };
	writeFileSync(testInfo.outputPath('bar-luma.json'), JSON.stringify(numbers, null, 2));
	await attachInfo(testInfo, 'bar-luma.json', numbers);
	expectNoFatal(consoleLines);
});
