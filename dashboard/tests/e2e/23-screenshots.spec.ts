// Issue 19, "Must show": the pages as a user sees them, at 1280×800 and at 390×844 with touch,
// written to one folder (SHOTS below; scripts/e2e.sh prints it at the end, CI keeps it with
// test-results/): home, search results, title pages (film, series, not in the library), the
// player with its settings menu open, and a title no provider has.
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import type { Page } from '@playwright/test';
import { clearProgress, expect, expectPlays, servers, test } from './support/fixtures';

/** Relative to dashboard/: Playwright runs there. */
export const SHOTS = path.join('test-results', 'screenshots');

const SIZES = [
	{ name: '1280x800', viewport: { width: 1280, height: 800 }, touch: false },
	{ name: '390x844', viewport: { width: 390, height: 844 }, touch: true }
];

const PAGES: { name: string; open: (page: Page) => Promise<void> }[] = [
	{
		name: 'home',
		open: async (page) => {
			await page.goto(`${servers.search}/`);
			await expect(page.getByTestId('library-item').first()).toBeVisible();
		}
	},
	{
		name: 'search-results',
		open: async (page) => {
			await page.goto(`${servers.search}/`);
			await expect(page.getByTestId('library-item').first()).toBeVisible();
			await page.getByTestId('search-input').fill('matri');
			await expect(page.getByTestId('search-results').getByRole('link', { name: /The Matrix Resurrections/ })).toBeVisible();
		}
	},
	{
		name: 'title-film',
		open: async (page) => {
			await page.goto(`${servers.search}/title/movie/603`);
			await expect(page.getByTestId('watch-button')).toBeVisible();
		}
	},
	{
		name: 'title-series',
		open: async (page) => {
			await page.goto(`${servers.search}/title/tv/1396`);
			await expect(page.getByTestId('episode').first()).toBeVisible();
		}
	},
	{
		name: 'title-not-in-library',
		open: async (page) => {
			await page.goto(`${servers.search}/title/movie/624860`);
			await expect(page.getByRole('heading', { level: 1 })).toHaveText('The Matrix Resurrections');
		}
	},
	{
		name: 'player-menu',
		open: async (page) => {
			await page.goto(`${servers.local}/watch/movie/603`);
			await expectPlays(page, { from: 0, seconds: 1 });
			await page.keyboard.press('k');
			await expect(page.getByTestId('player')).toHaveAttribute('data-controls', 'shown');
			await page.getByTestId('settings').click();
			await expect(page.getByTestId('settings-menu')).toBeVisible();
		}
	},
	{
		name: 'no-source',
		open: async (page) => {
			await page.goto(`${servers.local}/watch/movie/99999`);
			await expect(page.getByTestId('player-error')).toBeVisible();
		}
	}
];

test.beforeAll(() => mkdirSync(SHOTS, { recursive: true }));
test.beforeEach(async ({ request }) => clearProgress(request, servers.local));

for (const size of SIZES) {
	test.describe(size.name, () => {
		test.use({ viewport: size.viewport, hasTouch: size.touch, isMobile: size.touch });
		for (const { name, open } of PAGES) {
			test(`screenshot: ${name}`, async ({ page }) => {
				await open(page);
				// Posters and backdrops in the picture, not their placeholders.
				await page.waitForFunction(() =>
					[...document.images]
						.filter((img) => img.getBoundingClientRect().top < innerHeight)
						.every((img) => img.complete)
				);
				await page.screenshot({ path: path.join(SHOTS, `${name}-${size.name}.png`) });
			});
		}
	});
}
