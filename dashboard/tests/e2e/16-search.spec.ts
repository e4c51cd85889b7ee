// Issue 19, deliver 1 (its library part): the header's search field, `/` to focus it, library
// titles as you type, keyboard to a result, and a TMDB id opening a title outside the library.
import { axeSerious } from './support/axe';
import { expect, servers, snap, test } from './support/fixtures';

test.use({ baseURL: servers.local });

test('"/" focuses the search; library titles come as you type; Enter opens the first', async ({ page }, testInfo) => {
	await page.goto('/');
	await expect(page.getByTestId('library-item').first()).toBeVisible();
	await page.keyboard.press('/');
	const input = page.getByTestId('search-input');
	await expect(input).toBeFocused();
	await page.keyboard.type('demo ser');
	const results = page.getByTestId('search-result');
	await expect(results).toHaveCount(1);
	await expect(results.first()).toContainText('Sokoul Demo Series');
	await expect(page.getByTestId('search-results')).toContainText('1 titre dans la bibliothèque');
	await snap(page, testInfo, 'search-results');
	expect(await axeSerious(page, testInfo, 'search')).toEqual([]);
	await page.keyboard.press('Enter');
	await expect(page).toHaveURL(/\/title\/tv\/1396$/);
	await expect(page.locator('h1')).toHaveText('Sokoul Demo Series');

	// Accents and case do not matter; arrows reach the results.
	await input.fill('SOKOUL démo');
	await expect(results).toHaveCount(3);
	await page.keyboard.press('ArrowDown');
	await expect(results.first()).toBeFocused();
	await page.keyboard.press('Escape');
	await expect(page.getByTestId('search-results')).toBeHidden();
	await expect(input).toBeFocused();
});

test('a TMDB id opens the page of a title that is not in the library, with "Regarder"', async ({ page }, testInfo) => {
	await page.setViewportSize({ width: 390, height: 844 });
	await page.goto('/');
	await page.getByTestId('search-input').fill('99999');
	const open = page.getByRole('link', { name: 'Ouvrir le film TMDB n° 99999' });
	await expect(open).toBeVisible();
	await snap(page, testInfo, 'search-id-phone');
	// The results stay on the screen.
	const box = (await page.getByTestId('search-results').boundingBox())!;
	expect(box.x).toBeGreaterThanOrEqual(0);
	expect(box.x + box.width).toBeLessThanOrEqual(390);
	await open.click();
	await expect(page).toHaveURL(/\/title\/movie\/99999$/);
	await expect(page.getByTestId('watch-button')).toBeVisible();
});
