// Seek thumbnails (issue 15, item 4) on the demo library: hovering the seek bar of a film shows
// the tile of the time under the pointer, from a sheet that really loaded.
// Movie 603 is 90 s: at the default 10 s interval its tiles 0–8 sit in one 10x10 sheet.
import type { APIRequestContext, Page } from '@playwright/test';
import { attachInfo, expect, expectNoFatal, expectPlays, servers, snap, test } from './support/fixtures';

test.use({ baseURL: servers.local });

/** The film's thumbnails track, once the background job has made it (it runs after the scan). */
async function waitForThumbnails(request: APIRequestContext): Promise<void> {
	let track = '';
	await expect
		.poll(
			async () => {
				const body = await (await request.get('/api/streaming/library/movie/603')).json();
				const file = /^\/api\/media\/(\d+)\//.exec(body.sources?.[0]?.url ?? '')?.[1];
				if (!file) return 0;
				const r = await request.get(`/api/media/${file}/thumbnails.vtt`);
				track = r.ok() ? await r.text() : '';
				return r.status();
			},
			{ timeout: 90_000, intervals: [500] }
		)
		.toBe(200);
	expect(track).toMatch(/^WEBVTT/);
}

/** What the thumbnail shows: the sheet URL, its offset, and whether that sheet decoded. */
async function shownTile(page: Page) {
	const tile = page.getByTestId('seek-thumbnail');
	await expect(tile).toBeVisible();
	return tile.evaluate(async (el) => {
		const style = getComputedStyle(el);
		const url = /url\("?([^")]+)"?\)/.exec(style.backgroundImage)?.[1] ?? '';
		const image = new Image();
		image.src = url;
		const decoded = await image.decode().then(
			() => true,
			() => false
		);
		return {
			url,
			position: style.backgroundPosition,
			naturalWidth: image.naturalWidth,
			decoded,
			tooltipLeft: (el.closest('[data-testid=seek-preview]') as HTMLElement).style.left
		};
	});
}

test('hovering the seek bar shows the thumbnail of the time under the pointer', async ({
	page,
	request,
	consoleLines
}, testInfo) => {
	await waitForThumbnails(request);
	const sheet = page.waitForResponse((r) => /\/api\/media\/\d+\/thumbnails\/0\.jpg/.test(r.url()));
	await page.goto('/watch/movie/603');
	await expectPlays(page, { from: 0, seconds: 1 });

	const seek = page.getByRole('slider', { name: 'Position de lecture' });
	await page.mouse.move(640, 360); // shows the controls
	const box = (await seek.boundingBox())!;
	const y = box.y + box.height / 2;
	await page.mouse.move(box.x + box.width * 0.25, y, { steps: 4 });
	const early = await shownTile(page);
	const sheetResponse = await sheet;
	expect(sheetResponse.status()).toBe(200);
	expect(sheetResponse.headers()['content-type']).toBe('image/jpeg');
	await snap(page, testInfo, 'hover-25-percent');

	await page.mouse.move(box.x + box.width * 0.75, y, { steps: 4 });
	await expect.poll(async () => (await shownTile(page)).position).not.toBe(early.position);
	const late = await shownTile(page);
	await snap(page, testInfo, 'hover-75-percent');
	await attachInfo(testInfo, 'tiles.json', { early, late });

	for (const shown of [early, late]) {
		expect(shown.url).toMatch(/\/api\/media\/\d+\/thumbnails\/0\.jpg/);
		expect(shown.decoded).toBe(true);
		expect(shown.naturalWidth).toBeGreaterThan(0);
	}
	// 22.5 s is tile 2, 67.5 s tile 6 of a row of 10 tiles 320 px wide (scaled by the frame).
	expect(early.position).toBe('-640px 0px');
	expect(late.position).toBe('-1920px 0px');
	expect(parseFloat(late.tooltipLeft)).toBeGreaterThan(parseFloat(early.tooltipLeft));

	// Leaving the bar hides the preview.
	await page.mouse.move(640, 200);
	await expect(page.getByTestId('seek-preview')).toBeHidden();
	expectNoFatal(consoleLines);
});

test.describe('on a touch screen', () => {
	test.use({ hasTouch: true });

	test('dragging the seek bar shows the thumbnail of the drag position, then seeks there', async ({
		page,
		request,
		consoleLines
	}, testInfo) => {
		await waitForThumbnails(request);
		await page.goto('/watch/movie/603');
		await expectPlays(page, { from: 0, seconds: 1 });
		await page.mouse.move(640, 360); // shows the controls

		const seek = page.getByRole('slider', { name: 'Position de lecture' });
		const box = (await seek.boundingBox())!;
		const y = box.y + box.height / 2;
		// Playwright's touchscreen only taps: the drag goes through the DevTools protocol.
		const cdp = await page.context().newCDPSession(page);
		const touch = (type: 'touchStart' | 'touchMove' | 'touchEnd' | 'touchCancel', x?: number) =>
			cdp.send('Input.dispatchTouchEvent', { type, touchPoints: x === undefined ? [] : [{ x, y }] });
		await touch('touchStart', box.x + box.width * 0.1);
		for (const share of [0.2, 0.35, 0.5, 0.6]) await touch('touchMove', box.x + box.width * share);
		const dragged = await shownTile(page);
		await snap(page, testInfo, 'touch-drag-60-percent');
		expect(dragged.decoded).toBe(true);
		expect(dragged.naturalWidth).toBeGreaterThan(0);
		// 54 s is tile 5 of the first row.
		expect(dragged.position).toBe('-1600px 0px');
		await touch('touchEnd');

		await expect(page.getByTestId('seek-preview')).toBeHidden();
		await expectPlays(page, { from: 50, seconds: 1 });
		expectNoFatal(consoleLines);
	});
});
