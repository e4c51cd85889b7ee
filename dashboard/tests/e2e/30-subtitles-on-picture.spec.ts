// Subtitles sit on the picture (issue 19, item 3), not on the black bars around it: a portrait
// phone video in a desktop window is a narrow column, a landscape film on a phone held upright a
// band across the middle of the screen. Films made by scripts/e2e.sh with an English sidecar
// shown from 0.2 s to the end: movie 906 (portrait, 360×640 once upright), movie 905 (640×360).
import type { Page } from '@playwright/test';
import { attachInfo, expect, expectNoFatal, expectPlays, servers, snap, test } from './support/fixtures';

test.use({ baseURL: servers.local });

/** The picture's rectangle on screen (`object-fit: contain`) and the cue's. */
async function geometry(page: Page) {
	return page.evaluate(() => {
		const video = document.querySelector('[data-testid=player] video') as HTMLVideoElement;
		const box = video.getBoundingClientRect();
		const scale = Math.min(box.width / video.videoWidth, box.height / video.videoHeight);
		const [w, h] = [video.videoWidth * scale, video.videoHeight * scale];
		const left = box.left + (box.width - w) / 2;
		const top = box.top + (box.height - h) / 2;
		const cue = document.querySelector('[data-testid=player] .cues span')!.getBoundingClientRect();
		return {
			video: { width: video.videoWidth, height: video.videoHeight },
			picture: { left, top, right: left + w, bottom: top + h },
			cue: { left: cue.left, top: cue.top, right: cue.right, bottom: cue.bottom }
		};
	});
}

async function showSubtitles(page: Page, id: number) {
	await page.goto(`/watch/movie/${id}`);
	await expectPlays(page, { from: 0, timeout: 45_000 });
	await page.keyboard.press('c');
	await expect(page.locator('[data-testid=player] .cues')).toHaveText('On the picture, where the eyes are, even when the picture is a narrow column', {
		timeout: 20_000
	});
	// Let the controls shown by the key press hide: the cue then takes its resting place.
	await expect(page.locator('[data-testid=player]')).toHaveAttribute('data-controls', 'hidden', { timeout: 10_000 });
}

function expectOnPicture(g: Awaited<ReturnType<typeof geometry>>) {
	const { picture, cue } = g;
	expect(cue.left, JSON.stringify(g)).toBeGreaterThanOrEqual(picture.left - 1);
	expect(cue.right, JSON.stringify(g)).toBeLessThanOrEqual(picture.right + 1);
	expect(cue.top, JSON.stringify(g)).toBeGreaterThanOrEqual(picture.top - 1);
	expect(cue.bottom, JSON.stringify(g)).toBeLessThanOrEqual(picture.bottom + 1);
}

test.describe('a desktop window', () => {
	test.use({ viewport: { width: 1280, height: 800 } });

	test('a portrait phone video keeps its subtitle inside its column', async ({ page, consoleLines }, testInfo) => {
		await showSubtitles(page, 906);
		const g = await geometry(page);
		await attachInfo(testInfo, 'geometry.json', g);
		await snap(page, testInfo, 'portrait-subtitle');
		expect(g.video.height, 'the picture is upright').toBeGreaterThan(g.video.width);
		// The column is far narrower than the window: the cue's line, laid out on the window, is wider.
		expect(g.picture.right - g.picture.left).toBeLessThan(640);
		expectOnPicture(g);
		expectNoFatal(consoleLines);
	});
});

test.describe('a phone held upright', () => {
	test.use({ viewport: { width: 390, height: 844 }, hasTouch: true, isMobile: true });

	test('a landscape film keeps its subtitle on the picture, not on the bar below it', async ({ page, consoleLines }, testInfo) => {
		await showSubtitles(page, 905);
		const g = await geometry(page);
		await attachInfo(testInfo, 'geometry.json', g);
		await snap(page, testInfo, 'phone-subtitle');
		// The picture is a band in the middle: a cue at the screen's bottom would be 300 px below it.
		expect(g.picture.bottom).toBeLessThan(600);
		expectOnPicture(g);
		// And it stays on the picture when the controls come back.
		await page.locator('[data-testid=player] video').tap();
		await expect(page.locator('[data-testid=player]')).toHaveAttribute('data-controls', 'shown');
		const shown = await geometry(page);
		await attachInfo(testInfo, 'geometry-controls-shown.json', shown);
		expectOnPicture(shown);
		expectNoFatal(consoleLines);
	});
});
