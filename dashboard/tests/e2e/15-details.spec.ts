// Issue 19, "small things a user sees at once": no sideways scroll on title pages, plurals and
// runtimes in words, the episode title said once, full titles on hover, one distinct row per
// source in the player's menu.
import { expect, expectPlays, servers, test, clearProgress } from './support/fixtures';

test.use({ baseURL: servers.local });
test.beforeEach(async ({ request }) => clearProgress(request, servers.local));

for (const viewport of [
	{ width: 1280, height: 800 },
	{ width: 390, height: 844 }
]) {
	test(`title pages do not scroll sideways at ${viewport.width}×${viewport.height}`, async ({ page }) => {
		await page.setViewportSize(viewport);
		for (const path of ['/title/movie/603', '/title/tv/1396']) {
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
