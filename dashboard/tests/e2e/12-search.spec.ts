// Issue 19, search: from the header to a title that is not in the library (the fake TMDB of
// support/fake-tmdb.mjs), and "Regarder" on it plays through the remote providers (the fake
// Consumet); library titles are found as the viewer types, accents and case ignored.
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
	const film = results.getByRole('link', { name: /The Matrix/ });
	await expect(film).toBeVisible();
	await expect(film).toContainText('1999');
	// Films and series only: TMDB's person is left out.
	await expect(results.getByText('Keanu Reeves')).toHaveCount(0);
	await expect(results.getByRole('link', { name: /Série · 1993/ })).toBeVisible();
	await snap(page, testInfo, 'search-results');

	// The keyboard goes into the results and opens one.
	await input.press('ArrowDown');
	await expect(film).toBeFocused();
	await page.keyboard.press('Enter');
	await expect(page).toHaveURL(/\/title\/movie\/603$/);
	await expect(page.getByRole('heading', { level: 1 })).toHaveText('The Matrix');
	await snap(page, testInfo, 'title-not-in-library');

	await page.getByTestId('watch-button').click();
	await expect(page).toHaveURL(/\/watch\/movie\/603$/);
	await expectPlays(page, { from: 0 });
	await expect(page.getByTestId('player')).toHaveAttribute('data-source-index', '0');
	expectNoFatal(consoleLines);
});

test('library titles are found whatever the accents, and an id opens a title without TMDB', async ({ page }) => {
	await page.goto(`${servers.local}/`);
	const items = (await (await page.request.get(`${servers.local}/api/library/items`)).json()) as {
		items: { title: string; tmdb_id: number; media_type: string }[];
	};
	const first = items.items[0];
	const input = page.getByTestId('search-input');
	await input.fill(first.title.slice(0, 5).toUpperCase());
	const results = page.getByTestId('search-results');
	await expect(results.getByRole('link', { name: new RegExp(first.title) }).first()).toBeVisible();
	// No TMDB key on this server: the panel says how to add one, and an id still opens a title.
	await expect(page.getByTestId('search-no-tmdb')).toContainText('SOKOUL_TMDB_KEY');
	await input.fill(String(first.tmdb_id));
	const byId = results.getByTestId('search-id');
	await expect(byId).toHaveCount(2);
	await byId.filter({ hasText: first.media_type === 'tv' ? 'Série' : 'Film' }).click();
	await expect(page).toHaveURL(new RegExp(`/title/${first.media_type}/${first.tmdb_id}$`));
	await expect(page.getByRole('heading', { level: 1 })).toHaveText(first.title);
});
