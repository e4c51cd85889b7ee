// Issue 19, item 2 (part): the home page's sort and filters, the "Vu" badge of a finished film,
// and "Retirer de Reprendre la lecture", which the server forgets (DELETE /api/progress).
import { clearProgress, expect, servers, snap, test } from './support/fixtures';

test.use({ baseURL: servers.local });
test.beforeEach(async ({ request }) => clearProgress(request, servers.local));

test('a finished film is badged and filtered; a title removed from "Reprendre la lecture" stays removed', async ({
	page,
	request
}, testInfo) => {
	// 603 half-watched, 604 finished (89 s of 90).
	for (const [id, position] of [
		[603, 30],
		[604, 89]
	]) {
		const saved = await request.put(`${servers.local}/api/progress/movie/${id}`, { data: { position, duration: 90 } });
		expect(saved.status()).toBe(204);
	}

	await page.goto('/');
	const row = page.getByTestId('continue-item');
	await expect(row).toHaveCount(1);
	const films = page.locator('section[aria-labelledby=movies] [data-testid=library-item]');
	const film = (id: number) => films.and(page.locator(`[href="/title/movie/${id}"]`));
	await expect(film(604).getByTestId('watched-badge')).toBeVisible();
	await expect(film(603)).toBeVisible();
	await expect(film(603).getByTestId('watched-badge')).toHaveCount(0);
	await expect(films.filter({ has: page.getByTestId('watched-badge') })).toHaveCount(1);

	await page.getByTestId('browse-watched').selectOption('watched');
	await expect(films).toHaveCount(1);
	await expect(film(604)).toBeVisible();
	await page.getByTestId('browse-watched').selectOption('unwatched');
	await expect(film(604)).toHaveCount(0);
	await expect(film(603)).toBeVisible();
	await page.getByTestId('browse-kind').selectOption('tv');
	await expect(films).toHaveCount(0);
	await expect(page.locator('section[aria-labelledby=series] [data-testid=library-item]').first()).toBeVisible();
	await snap(page, testInfo, 'filtered-series-unwatched');

	await page.getByTestId('continue-remove').click();
	await expect(row).toHaveCount(0);
	await page.reload();
	await expect(page.locator('section[aria-labelledby=movies] [data-testid=library-item]').first()).toBeVisible();
	await expect(page.getByTestId('continue-item')).toHaveCount(0);
	// The finished film keeps its badge: only unfinished positions were forgotten.
	const left = (await (await request.get(`${servers.local}/api/progress`)).json()) as { items: { tmdb_id: number }[] };
	expect(left.items.map((i) => i.tmdb_id)).toEqual([604]);
});
