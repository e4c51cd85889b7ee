// Issue 19, search: from the header to a title that is not in the library (the fake TMDB of
// support/fake-tmdb.mjs), and "Regarder" on it plays through the remote providers (the fake
// Consumet). Library titles as the viewer types are 16-search.spec.ts's.
import { expect, expectNoFatal, expectPlays, servers, snap, test } from './support/fixtures';

test('"/" then a few letters find a title outside the library, whose "Regarder" plays', async ({ page, consoleLines }, testInfo) => {
	await page.goto(`${servers.search}/`);
	// The page's scripts are running once the library is listed.
	await expect(page.getByTestId('library-item').first()).toBeVisible();
	await page.keyboard.press('/');
	const input = page.getByTestId('search-input');
	await expect(input).toBeFocused();
	await input.pressSequentially('matri', { delay: 40 });

	const results = page.getByTestId('search-results');
	const film = results.getByRole('link', { name: /The Matrix Resurrections/ });
	await expect(film).toBeVisible();
	await expect(film).toContainText('2021');
	// Films and series only: TMDB's person is left out.
	await expect(results.getByText('Keanu Reeves')).toHaveCount(0);
	await expect(results.getByRole('link', { name: /Série · 1993/ })).toBeVisible();
	await snap(page, testInfo, 'search-results');

	// The keyboard goes into the results and opens one.
	await input.press('ArrowDown');
	await expect(film).toBeFocused();
	await page.keyboard.press('Enter');
	await expect(page).toHaveURL(/\/title\/movie\/624860$/);
	await expect(page.getByRole('heading', { level: 1 })).toHaveText('The Matrix Resurrections');
	await snap(page, testInfo, 'title-not-in-library');
	// The synopsis comes from TMDB in the interface's language, and follows the header's switch.
	const synopsis = page.getByText(/Un pirate informatique apprend la vérité/);
	await expect(synopsis).toBeVisible();
	await page.getByTestId('language-switch').selectOption('en');
	await expect(page.getByText(/A hacker learns the truth about the reality/)).toBeVisible();
	await expect(synopsis).toHaveCount(0);
	await page.getByTestId('language-switch').selectOption('fr');
	await expect(synopsis).toBeVisible();

	await page.getByTestId('watch-button').click();
	await expect(page).toHaveURL(/\/watch\/movie\/624860$/);
	await expectPlays(page, { from: 0 });
	await expect(page.getByTestId('player')).toHaveAttribute('data-source-index', '0');
	expectNoFatal(consoleLines);
});

test('without a TMDB key the results say how to add one', async ({ page }) => {
	await page.goto(`${servers.local}/`);
	await expect(page.getByTestId('library-item').first()).toBeVisible();
	await page.getByTestId('search-input').fill('matrix');
	await expect(page.getByTestId('search-no-tmdb')).toContainText('SOKOUL_TMDB_KEY');
	await expect(page.getByTestId('search-tmdb-result')).toHaveCount(0);
});
