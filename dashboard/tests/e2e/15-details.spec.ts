// Issue 19, "small things a user sees at once": no sideways scroll on title pages, plurals and
// runtimes in words, the episode title said once, full titles on hover, one distinct row per
// source in the player's menu. And deliver 2's title pages: genres, runtime and rating (TMDB, the
// fake of support/fake-tmdb.mjs on the search server), and per episode a picture (a frame of the
// library's file), TMDB's synopsis and air date.
import type { Locator } from '@playwright/test';
import { expect, expectPlays, servers, snap, test, clearProgress } from './support/fixtures';

test.use({ baseURL: servers.local });
test.beforeEach(async ({ request }) => clearProgress(request, servers.local));

for (const viewport of [
	{ width: 1280, height: 800 },
	{ width: 390, height: 844 }
]) {
	test(`title pages do not scroll sideways at ${viewport.width}×${viewport.height}`, async ({ page }) => {
		await page.setViewportSize(viewport);
		// The search server's pages carry TMDB's genres, synopses and episode pictures too.
		for (const path of ['/title/movie/603', '/title/tv/1396', `${servers.search}/title/movie/603`, `${servers.search}/title/tv/1396`]) {
			await page.goto(path);
			await expect(page.getByTestId('watch-button')).toBeVisible();
			const scrolled = await page.evaluate(() => {
				window.scrollTo(400, 0);
				const backdrop = document.querySelector('.backdrop')?.getBoundingClientRect();
				return { x: window.scrollX, backdrop: backdrop && { left: backdrop.left, right: backdrop.right }, width: innerWidth };
			});
			expect(scrolled.x, path).toBe(0);
			if (scrolled.backdrop) {
				expect(scrolled.backdrop.left, path).toBeGreaterThanOrEqual(-1);
				expect(scrolled.backdrop.right, path).toBeLessThanOrEqual(scrolled.width + 1);
			}
		}
	});
}

test('runtimes and season counts read as words: "12 s", "2 min", "1 saison"', async ({ page }) => {
	await page.goto('/title/movie/905');
	await expect(page.locator('.meta')).toContainText('12 s');
	await expect(page.locator('.meta')).not.toContainText('0 min');
	await page.goto('/title/movie/603');
	await expect(page.locator('.meta')).toContainText('2 min');
	await page.goto('/title/tv/1396');
	await expect(page.locator('.meta')).toContainText('1 saison');
	await expect(page.locator('.meta')).not.toContainText('1 saisons');
});

test('library cards carry their full title for when it is cut', async ({ page }) => {
	await page.goto('/');
	const titles = page.locator('[data-testid=library-item] .title');
	await expect(titles.first()).toBeVisible();
	for (const title of await titles.all()) {
		expect(await title.getAttribute('title')).toBe((await title.textContent())?.trim());
	}
});

test('the player says the episode title once, and its source menu has no two identical rows', async ({ page }) => {
	await page.goto('/watch/tv/1396?season=1&episode=1');
	await expectPlays(page, { from: 0, seconds: 1 });
	const heading = page.getByTestId('player').locator('.heading');
	await expect(heading).toContainText('S1 · É1 — Pilot');
	expect(((await heading.textContent()) ?? '').match(/Pilot/g)).toHaveLength(1);

	// Film 603: the library file played directly and through HLS.
	await page.goto('/watch/movie/603');
	await expectPlays(page, { from: 0, seconds: 1 });
	await page.getByTestId('settings').click();
	await page.getByTestId('settings-menu').getByRole('button', { name: /^Source/ }).click();
	const rows = page.getByTestId('settings-menu').locator('button.option .grow');
	await expect(rows).toHaveCount(2);
	const labels = (await rows.allTextContents()).map((text) => text.trim());
	expect(new Set(labels).size, labels.join(' | ')).toBe(2);
	expect(labels.join(' ')).toContain('lecture directe');
});

/** Waits for the row's picture, then says whether it decoded into a real image. */
async function stillLoaded(row: Locator): Promise<boolean> {
	const img = row.getByTestId('episode-still');
	await img.scrollIntoViewIfNeeded();
	return img.evaluate(async (el: HTMLImageElement) => {
		await el.decode().catch(() => undefined);
		return el.complete && el.naturalWidth > 0;
	});
}

test('a film page says its genres, runtime and rating in the interface’s language', async ({ page }, testInfo) => {
	await page.goto(`${servers.search}/title/movie/603`);
	const genres = page.getByTestId('genres').getByRole('listitem');
	await expect(genres).toHaveText(['Action', 'Science-fiction']);
	await expect(page.getByRole('list', { name: 'Genres' })).toBeVisible();
	// The library's file is what plays: its length, not TMDB's 136 min.
	await expect(page.getByTestId('runtime')).toHaveText('2 min');
	await expect(page.getByTestId('rating')).toContainText('7,8/10');
	await expect(page.getByTestId('rating')).toContainText('Note TMDB : 7,8 sur 10');
	await snap(page, testInfo, 'film-details');

	// Outside the library: TMDB's runtime.
	await page.goto(`${servers.search}/title/movie/624860`);
	await expect(page.getByTestId('runtime')).toHaveText('2 h 28 min');
	await expect(page.getByTestId('rating')).toContainText('6,4/10');
	await expect(page.getByTestId('genres').getByRole('listitem')).toHaveText(['Science-fiction', 'Action']);

	// Without TMDB: the library's runtime, and no genre or rating to make up.
	await page.goto('/title/movie/603');
	await expect(page.getByTestId('runtime')).toHaveText('2 min');
	await expect(page.getByTestId('genres')).toHaveCount(0);
	await expect(page.getByTestId('rating')).toHaveCount(0);
});

test('a series page shows each episode’s picture, synopsis and air date', async ({ page }, testInfo) => {
	await page.goto(`${servers.search}/title/tv/1396`);
	await expect(page.getByTestId('runtime')).toHaveText('2 min par épisode');
	await expect(page.getByTestId('genres').getByRole('listitem')).toHaveText(['Drame']);
	const rows = page.getByTestId('episode');
	await expect(rows).toHaveCount(3);
	const pilot = rows.nth(0);
	await expect(pilot.getByTestId('episode-overview')).toHaveText('The bars line up for the first time.');
	await expect(pilot.getByTestId('episode-air-date')).toHaveText('7 janvier 2024');
	await expect(pilot.getByTestId('episode-air-date')).toHaveAttribute('datetime', '2024-01-07');
	const still = pilot.getByTestId('episode-still');
	await expect(still).toHaveAttribute('src', /^\/api\/library\/still\/tv\/1396\/1\/1/);
	await expect(still).toHaveAttribute('alt', 'Image de l’épisode S1 · É1');
	await expect(still).toHaveAttribute('loading', 'lazy');
	expect(await stillLoaded(pilot), 'the frame of the file loaded').toBe(true);
	expect(await stillLoaded(rows.nth(1))).toBe(true);
	const box = await still.boundingBox();
	expect(box && Math.abs(box.width / box.height - 16 / 9)).toBeLessThan(0.05);
	// TMDB's third episode is not in the library: listed (the providers may have it), no picture.
	await expect(rows.nth(2)).toContainText('The Third One');
	await expect(rows.nth(2)).toContainText('Hors bibliothèque');
	await expect(rows.nth(2).getByTestId('episode-still')).toHaveCount(0);
	await snap(page, testInfo, 'series-details');

	// Without TMDB the rows keep the library's frames.
	await page.goto('/title/tv/1396');
	await expect(page.getByTestId('episode')).toHaveCount(2);
	expect(await stillLoaded(page.getByTestId('episode').first())).toBe(true);
	await expect(page.getByTestId('episode-overview')).toHaveCount(0);
});
