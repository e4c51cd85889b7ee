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

test('"Ajoutés récemment" and the date-added sort; a film marked watched, then not', async ({ page, request }, testInfo) => {
	const library = (await (await request.get(`${servers.local}/api/library/items`)).json()) as { items: unknown[] };
	await page.goto('/');
	const recent = page.locator('section[aria-labelledby=recent]');
	await expect(recent.getByRole('heading', { name: 'Ajoutés récemment' })).toBeVisible();
	await expect(recent.getByTestId('recent-item')).toHaveCount(Math.min(20, library.items.length));
	await page.getByTestId('browse-sort').selectOption('added');
	await expect(page.locator('section[aria-labelledby=movies] [data-testid=library-item]').first()).toBeVisible();
	// A series nobody started shows how many episodes are waiting.
	const series = page.locator('section[aria-labelledby=series] [href="/title/tv/1396"]');
	await expect(series.getByTestId('unwatched-count')).toHaveText(/^2/);

	await page.goto('/title/movie/603');
	const mark = page.getByTestId('mark-watched');
	await expect(mark).toHaveText('Marquer comme vu');
	await mark.click();
	await expect(mark).toHaveText('Marquer comme non vu');
	await expect(mark).toHaveAttribute('aria-pressed', 'true');
	await snap(page, testInfo, 'film-marked-watched');
	await page.goto('/');
	const film = page.locator('section[aria-labelledby=movies] [href="/title/movie/603"]');
	await expect(film.getByTestId('watched-badge')).toBeVisible();

	await page.goto('/title/movie/603');
	await page.getByTestId('mark-watched').click();
	await expect(page.getByTestId('mark-watched')).toHaveText('Marquer comme vu');
	await page.goto('/');
	await expect(film).toBeVisible();
	await expect(film.getByTestId('watched-badge')).toHaveCount(0);
});

test('episodes marked one by one; a finished series offers to start again; "Lire depuis le début"', async ({
	page,
	request
}, testInfo) => {
	await page.goto('/title/tv/1396');
	const marks = page.getByTestId('mark-episode');
	await expect(marks).toHaveCount(2);
	await marks.nth(0).click();
	await expect(marks.nth(0)).toHaveAttribute('aria-pressed', 'true');
	await expect(page.getByTestId('watch-button')).toHaveAttribute('href', '/watch/tv/1396?season=1&episode=2');
	await page.goto('/');
	const series = page.locator('section[aria-labelledby=series] [href="/title/tv/1396"]');
	await expect(series.getByTestId('unwatched-count')).toHaveText(/^1/);

	await page.goto('/title/tv/1396');
	await page.getByTestId('mark-episode').nth(1).click();
	const watch = page.getByTestId('watch-button');
	await expect(watch).toHaveText('Revoir depuis le début');
	await expect(watch).toHaveAttribute('href', '/watch/tv/1396?season=1&episode=1&start=0');
	await snap(page, testInfo, 'series-finished');
	await page.goto('/');
	await expect(series.getByTestId('watched-badge')).toBeVisible();
	await expect(series.getByTestId('unwatched-count')).toHaveCount(0);

	// Half-way through a film: "Regarder" resumes, "Lire depuis le début" starts at 0:00.
	const saved = await request.put(`${servers.local}/api/progress/movie/603`, { data: { position: 40, duration: 90 } });
	expect(saved.status()).toBe(204);
	await page.goto('/title/movie/603');
	const fromStart = page.getByTestId('play-from-start');
	await expect(fromStart).toHaveAttribute('href', '/watch/movie/603?start=0');
	await fromStart.click();
	await expect(page.getByTestId('player')).toHaveAttribute('data-state', 'playing');
	const at = await page.evaluate(() => document.querySelector<HTMLVideoElement>('[data-testid=player] video')!.currentTime);
	expect(at).toBeLessThan(20);
});
