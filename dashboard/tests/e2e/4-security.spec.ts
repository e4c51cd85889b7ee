// Security (issues 7 and 16): playback under the server's Content-Security-Policy with hls.js in
// worker mode, and a server with an account and SOKOUL_API_TOKEN (login form, an HttpOnly session
// cookie no script can read, posters and media through signed URLs, logout).
import type { Page } from '@playwright/test';
import {
	attachInfo,
	clearProgress,
	cspViolations,
	expect,
	expectNoFatal,
	expectPlays,
	refuseFileTypes,
	servers,
	snap,
	test
} from './support/fixtures';

/** URLs of the web workers the page starts (hls.js's transmuxer, from `workerPath`). */
function recordWorkers(page: Page): string[] {
	const urls: string[] = [];
	page.on('worker', (worker) => urls.push(worker.url()));
	return urls;
}

test('an HLS episode plays with hls.js in a worker and no CSP violation', async ({ page, request, consoleLines }, testInfo) => {
	await clearProgress(request, servers.local);
	// The episode's MKV plays as it is in Chromium: its HLS packaging is what is tested here.
	await refuseFileTypes(page);
	const workers = recordWorkers(page);
	const navigation = await page.goto(`${servers.local}/watch/tv/1396?season=1&episode=1`);
	const csp = (await navigation!.allHeaders())['content-security-policy'];
	expect(csp).toContain("worker-src 'self' blob:");
	expect(csp).not.toMatch(/script-src[^;]*unsafe/);

	const info = await expectPlays(page, { from: 0 });
	await attachInfo(testInfo, 'playback.json', { info, workers, csp });
	await snap(page, testInfo, 'playing');
	expect(info.src).toMatch(/^blob:/); // MediaSource: hls.js
	// Without a worker hls.js would quietly transmux on the main thread, and this test would
	// prove nothing about `worker-src`.
	expect(workers.some((url) => /\/hls\.worker\.[\w-]+\.js$/.test(url)), 'hls.js started its worker').toBeTruthy();
	expectNoFatal(consoleLines);
});

test('the CSP violation detector works: an injected inline script is blocked and reported', async ({ page, consoleLines }) => {
	await page.goto(`${servers.local}/`);
	await page.evaluate(() => {
		const script = document.createElement('script');
		script.textContent = 'window.__injected = true;';
		document.body.append(script);
	});
	await expect.poll(() => cspViolations(consoleLines).length).toBeGreaterThan(0);
	expect(await page.evaluate(() => (window as unknown as { __injected?: boolean }).__injected)).toBeUndefined();
});

test.describe('with SOKOUL_API_TOKEN', () => {
	test.beforeEach(async ({ request }) => {
		// Without the token the API is closed (JSON 401); with it, progress can be cleared.
		const refused = await request.get(`${servers.secure}/api/library/items`);
		expect(refused.status()).toBe(401);
		expect((await refused.json()).error.code).toBe('unauthorized');
		const auth = { Authorization: `Bearer ${servers.token}` };
		const { items } = await (await request.get(`${servers.secure}/api/progress`, { headers: auth })).json();
		for (const item of items as { media_type: string; tmdb_id: number; season?: number; episode?: number }[]) {
			const query = item.season != null ? `?season=${item.season}&episode=${item.episode}` : '';
			await request.delete(`${servers.secure}/api/progress/${item.media_type}/${item.tmdb_id}${query}`, { headers: auth });
		}
	});

	test('the login form lets the dashboard in; posters, a direct-play film and an HLS episode load; logout ends the session', async ({
		page,
		request,
		consoleLines
	}, testInfo) => {
		// The episode below is an MKV Chromium plays as it is: its HLS packaging (signed segment
		// URLs) is what is tested.
		await refuseFileTypes(page);
		await page.goto(`${servers.secure}/`);
		const form = page.getByTestId('login-form');
		await expect(form).toBeVisible();
		await expect(form).toContainText('Connexion');
		await snap(page, testInfo, 'login');

		await page.getByTestId('login-username').fill(servers.user);
		await page.getByTestId('login-password').fill('not-the-password');
		await page.getByTestId('login-submit').click();
		await expect(page.getByTestId('login-error')).toHaveText('Nom d’utilisateur ou mot de passe incorrect.');

		await page.getByTestId('login-password').fill(servers.password);
		await page.getByTestId('login-submit').click();
		const film = page.locator('[data-testid=library-item][href="/title/movie/603"]');
		await expect(film).toBeVisible();
		await expect(form).toHaveCount(0);
		await expect(page.getByTestId('current-user')).toHaveText(servers.user);

		// No credential a script could read: nothing in localStorage, and the session cookie is
		// HttpOnly (invisible to document.cookie).
		const stored = await page.evaluate(() => ({ local: { ...localStorage }, cookie: document.cookie }));
		expect(Object.values(stored.local).join(' ')).not.toContain(servers.token);
		expect(Object.keys(stored.local)).not.toContain('sokoul.token');
		expect(stored.cookie).not.toContain('sokoul_session');
		const session = (await page.context().cookies(servers.secure)).find((c) => c.name === 'sokoul_session');
		expect(session?.httpOnly).toBe(true);
		expect(session?.sameSite).toBe('Lax');

		// Posters are <img> requests: they carry a media token, not the header.
		const poster = film.locator('img');
		await expect.poll(() => poster.evaluate((img: HTMLImageElement) => img.complete && img.naturalWidth)).toBeGreaterThan(0);
		expect(await poster.getAttribute('src')).toMatch(/^\/api\/library\/poster\/movie\/603\?st=/);
		await snap(page, testInfo, 'library');

		// The film's MP4 is the <video>'s own src: a signed URL.
		await film.click();
		await page.getByTestId('watch-button').click();
		const info = await expectPlays(page, { from: 0 });
		expect(info.src).toMatch(/\/api\/media\/\d+\/file\?st=/);

		// An episode through hls.js: the playlists carry the token to every segment.
		await page.goto(`${servers.secure}/watch/tv/1396?season=1&episode=2`);
		const episode = await expectPlays(page, { from: 0 });
		expect(episode.src).toMatch(/^blob:/);
		await attachInfo(testInfo, 'playback.json', { film: info, episode });
		await snap(page, testInfo, 'episode');

		// Logout returns to the login form, and the old cookie opens nothing any more.
		await page.goto(`${servers.secure}/`);
		await page.getByTestId('logout').click();
		await expect(page.getByTestId('login-form')).toBeVisible();
		const old = await request.get(`${servers.secure}/api/progress`, {
			headers: { Cookie: `sokoul_session=${session!.value}` }
		});
		expect(old.status()).toBe(401);
		expectNoFatal(consoleLines);
	});
});
