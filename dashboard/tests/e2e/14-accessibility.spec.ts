// Issue 19, deliver 6: axe-core finds no serious or critical violation on the dashboard's pages,
// at a desktop size and on a phone: home, title pages (film, series; without and with TMDB), the
// player with its controls shown and with its settings menu open, a title with no source, the
// login form, the API reference.
import type { Page } from '@playwright/test';
import { axeSerious } from './support/axe';
import { clearProgress, expect, expectPlays, servers, snap, test } from './support/fixtures';

test.use({ baseURL: servers.local });
test.beforeEach(async ({ request }) => clearProgress(request, servers.local));

const SIZES = [
	{ name: 'desktop', viewport: { width: 1280, height: 800 }, touch: false },
	{ name: 'phone', viewport: { width: 390, height: 844 }, touch: true }
];

async function pausedWithControls(page: Page): Promise<void> {
	await page.goto('/watch/movie/603');
	await expectPlays(page, { from: 0, seconds: 1 });
	await page.keyboard.press('k');
	await expect(page.getByTestId('player')).toHaveAttribute('data-controls', 'shown');
}

const PAGES: { name: string; open: (page: Page) => Promise<void> }[] = [
	{
		name: 'home',
		open: async (page) => {
			await page.goto('/');
			await expect(page.getByTestId('library-item').first()).toBeVisible();
		}
	},
	{
		name: 'title-film',
		open: async (page) => {
			await page.goto('/title/movie/603');
			await expect(page.getByTestId('watch-button')).toBeVisible();
		}
	},
	{
		name: 'title-series',
		open: async (page) => {
			await page.goto('/title/tv/1396');
			await expect(page.getByTestId('watch-button')).toBeVisible();
		}
	},
	{
		// With TMDB (the search server's fake): genres, rating, episode pictures and synopses.
		name: 'title-film-tmdb',
		open: async (page) => {
			await page.goto(`${servers.search}/title/movie/603`);
			await expect(page.getByTestId('genres')).toBeVisible();
		}
	},
	{
		name: 'title-series-tmdb',
		open: async (page) => {
			await page.goto(`${servers.search}/title/tv/1396`);
			await expect(page.getByTestId('episode-overview').first()).toBeVisible();
		}
	},
	{ name: 'watch-controls', open: pausedWithControls },
	{
		name: 'watch-settings',
		open: async (page) => {
			await pausedWithControls(page);
			await page.getByTestId('settings').click();
			await expect(page.getByTestId('settings-menu')).toBeVisible();
		}
	},
	{
		name: 'no-source',
		open: async (page) => {
			await page.goto('/watch/movie/99999');
			await expect(page.getByTestId('player-error')).toBeVisible();
		}
	},
	{
		name: 'login',
		open: async (page) => {
			// The server with accounts: a browser without a session gets the login form.
			await page.goto(`${servers.secure}/`);
			await expect(page.getByTestId('login-form')).toBeVisible();
		}
	},
	{
		name: 'api-docs',
		open: async (page) => {
			await page.goto('/api-docs');
			await expect(page.locator('h1')).toBeVisible();
		}
	}
];

for (const size of SIZES) {
	test.describe(size.name, () => {
		test.use({ viewport: size.viewport, hasTouch: size.touch, isMobile: size.touch });
		for (const { name, open } of PAGES) {
			test(`axe: ${name}`, async ({ page }, testInfo) => {
				await open(page);
				await snap(page, testInfo, `${name}-${size.name}`);
				expect(await axeSerious(page, testInfo, name)).toEqual([]);
			});
		}
	});
}

test('with reduced motion the player still shows that it is loading, in words', async ({ page }, testInfo) => {
	await page.emulateMedia({ reducedMotion: 'reduce' });
	// The resolve never answers: the player stays on its loading state.
	await page.route('**/api/streaming/resolve/**', () => undefined);
	await page.goto('/watch/movie/603');
	const status = page.getByTestId('player').getByRole('status');
	await expect(status).toBeVisible();
	await expect(status).toContainText('Recherche des sources…');
	await expect(status.locator('.spinner')).toBeVisible();
	await snap(page, testInfo, 'loading-reduced-motion');
	expect(await axeSerious(page, testInfo, 'loading')).toEqual([]);
});
