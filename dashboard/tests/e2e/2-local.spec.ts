// The demo library on a plain `sokoul serve` (no remote provider): issue 5 (a), (e), (f), (g).
// Titles (sokoul demo-library, 90 s each): movie 603 = H.264/AAC MP4 played directly, movie 604 =
// HEVC/AC-3 MKV transcoded to HLS, tv 1396 season 1 episodes 1–2 = H.264/AAC MKV (played as it is by
// Chromium, whose Matroska demuxer takes it; remuxed to HLS for a browser without one).
import {
	clearProgress,
	currentTime,
	expect,
	expectNoFatal,
	expectPlays,
	servers,
	snap,
	attachInfo,
	test
} from './support/fixtures';

test.use({ baseURL: servers.local });
test.beforeEach(async ({ request }) => clearProgress(request, servers.local));

test('(a) from the home page, "Regarder" plays the film', async ({ page, consoleLines }, testInfo) => {
	await page.goto('/');
	await page.locator('[data-testid=library-item][href="/title/movie/603"]').click();
	await expect(page).toHaveURL(/\/title\/movie\/603$/);
	const watch = page.getByTestId('watch-button');
	await expect(watch).toHaveText(/Regarder/);
	await watch.click();
	await expect(page).toHaveURL(/\/watch\/movie\/603$/);

	const info = await expectPlays(page, { from: 0 });
	await attachInfo(testInfo, 'playback.json', info);
	await snap(page, testInfo, 'playing');
	// The library's MP4 is played directly (no HLS), from the first source.
	expect(info.src).toMatch(/\/api\/media\/\d+\/file$/);
	await expect(page.getByTestId('player')).toHaveAttribute('data-source-index', '0');
	expectNoFatal(consoleLines);
});

test('a HEVC/AC-3 film plays, transcoded to HLS by the server', async ({ page, consoleLines }, testInfo) => {
	await page.goto('/watch/movie/604');
	const info = await expectPlays(page, { from: 0, timeout: 45_000 });
	await attachInfo(testInfo, 'playback.json', info);
	await snap(page, testInfo, 'playing');
	expect(info.src).toMatch(/^blob:/); // MediaSource: hls.js
	expect(info.audioBytes).toBeGreaterThan(0);
	expectNoFatal(consoleLines);
});

// Resuming needs a position of at least 10 s and more than 60 s before the end (media.ts):
// 20 s into the 90 s film.
test('(e) after a reload, playback resumes near the saved position', async ({ page, request, consoleLines }, testInfo) => {
	await page.goto('/watch/movie/603');
	await expectPlays(page, { from: 0, seconds: 1 });
	await page.evaluate(() => {
		document.querySelector<HTMLVideoElement>('[data-testid=player] video')!.currentTime = 20;
	});
	await expectPlays(page, { from: 20, seconds: 1 });

	// Pausing saves the position at once.
	const saved = page.waitForResponse(
		(r) => r.request().method() === 'PUT' && r.url().includes('/api/progress/movie/603')
	);
	await page.keyboard.press('k');
	expect((await saved).status()).toBe(204);
	await expect(page.getByTestId('player')).toHaveAttribute('data-state', 'paused');
	const stored = await (await request.get(`${servers.local}/api/progress/movie/603`)).json();
	expect(stored.position).toBeGreaterThan(20);
	expect(stored.position).toBeLessThan(28);

	await page.reload();
	const player = page.getByTestId('player');
	await expect(player).toHaveAttribute('data-state', 'playing');
	const resumedAt = await currentTime(page);
	await attachInfo(testInfo, 'resume.json', { saved: stored.position, resumedAt });
	expect(Math.abs(resumedAt - stored.position)).toBeLessThan(3);
	await expectPlays(page, { seconds: 1 });
	await snap(page, testInfo, 'resumed');
	expectNoFatal(consoleLines);
});

test('(f) "next episode" starts the next episode', async ({ page, consoleLines }, testInfo) => {
	// Registered first: the next episode is resolved as soon as its card shows (issue 15), before the click.
	const resolveNext = page.waitForRequest((r) =>
		r.url().includes('/api/streaming/resolve/tv/1396?season=1&episode=2')
	);
	await page.goto('/watch/tv/1396?season=1&episode=1');
	await expectPlays(page, { from: 0, seconds: 1 });
	// 8 → 80 % of the 90 s episode: inside the last 30 s, where the prompt appears.
	await page.keyboard.press('8');
	const next = page.getByTestId('next-episode');
	await expect(next).toBeVisible();
	await snap(page, testInfo, 'prompt');
	await resolveNext;

	await next.click();
	await expect(page).toHaveURL(/\/watch\/tv\/1396\?season=1&episode=2$/);
	await expect(page.getByTestId('player')).toContainText('É2');
	// The new episode starts from the beginning (the old one was at 72 s).
	await page.waitForFunction(
		() => document.querySelector<HTMLVideoElement>('[data-testid=player] video')!.currentTime < 20
	);
	const info = await expectPlays(page, { from: 0 });
	await attachInfo(testInfo, 'playback.json', info);
	await snap(page, testInfo, 'episode-2');
	expectNoFatal(consoleLines);
});

test('(g) the keyboard seeks', async ({ page, consoleLines }, testInfo) => {
	await page.goto('/watch/movie/603');
	await expectPlays(page, { from: 0, seconds: 1 });
	const player = page.getByTestId('player');
	await page.keyboard.press('k');
	await expect(player).toHaveAttribute('data-state', 'paused');

	const steps: [string, (t: number, duration: number) => number][] = [
		['ArrowRight', (t) => t + 5],
		['l', (t) => t + 10],
		['ArrowLeft', (t) => t - 5],
		['j', (t) => t - 10],
		['5', (_, d) => d * 0.5],
		['2', (_, d) => d * 0.2]
	];
	const duration = await page.evaluate(
		() => document.querySelector<HTMLVideoElement>('[data-testid=player] video')!.duration
	);
	const log: { key: string; from: number; to: number }[] = [];
	for (const [key, expected] of steps) {
		const from = await currentTime(page);
		const target = expected(from, duration);
		await page.keyboard.press(key);
		await expect.poll(() => currentTime(page), { message: `after ${key}` }).toBeCloseTo(target, 0);
		log.push({ key, from, to: await currentTime(page) });
	}
	await attachInfo(testInfo, 'seeks.json', log);

	await page.keyboard.press('Space');
	await expectPlays(page, { from: duration * 0.2, seconds: 1 });
	await snap(page, testInfo, 'after-seeks');
	expectNoFatal(consoleLines);
});
