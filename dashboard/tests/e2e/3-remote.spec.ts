// Remote sources through Sokoul's signed proxy: issue 5 (b), (c), (d) with the fake Consumet
// (examples/fake_consumet.rs, whose CDN answers 403 without `Referer: https://embed.example/e/1`),
// and issue 6's Stremio case with the real stremio-addon-sdk addon (tests/stremio-addon).
import type { Page } from '@playwright/test';
import { fr } from '../../src/lib/i18n/fr';
import type { ResolveResponse } from '../../src/lib/api/types';
import { PREFERENCES_KEY } from '../../src/lib/player/preferences';
import { attachInfo, clearProgress, currentTime, expect, expectNoFatal, expectPlays, servers, snap, test } from './support/fixtures';

/** Every media request the page makes (playlists, segments, files), with its status. */
function recordMedia(page: Page): { url: string; status: number }[] {
	const seen: { url: string; status: number }[] = [];
	page.on('response', (response) => {
		const url = response.url();
		if (/\/api\/streaming\/proxy|\.m3u8|\.ts(\?|$)|\/cdn\//.test(url)) seen.push({ url, status: response.status() });
	});
	return seen;
}

const proxyPrefix = (base: string) => `${base}/api/streaming/proxy`;

test('(b) a source that needs a Referer plays through the proxy', async ({ page, request, consoleLines }, testInfo) => {
	// The CDN refuses the browser's own request: a page cannot set Referer.
	expect((await request.get(`${servers.consumet}/cdn/550/master.m3u8`)).status()).toBe(403);
	const resolved = (await (await request.get(`${servers.remote}/api/streaming/resolve/movie/550`)).json()) as ResolveResponse;
	expect(resolved.sources[0].provider).toBe('consumet');
	expect(resolved.sources[0].proxy_url).toContain('/api/streaming/proxy');

	const media = recordMedia(page);
	await page.goto(`${servers.remote}/watch/movie/550`);
	const info = await expectPlays(page, { from: 0 });
	await attachInfo(testInfo, 'playback.json', { info, media });
	await snap(page, testInfo, 'playing');
	await expect(page.getByTestId('player')).toHaveAttribute('data-source-index', '0');
	expect(media.length).toBeGreaterThan(2);
	// Everything went through the proxy (the browser never talked to the CDN), and succeeded.
	for (const m of media) {
		expect(m.url.startsWith(proxyPrefix(servers.remote)), m.url).toBeTruthy();
		expect(m.status, m.url).toBeLessThan(400);
	}
	expectNoFatal(consoleLines);
});

test('(c) the first source answers 403: the player switches to the second, which plays', async ({ page, consoleLines }, testInfo) => {
	const media = recordMedia(page);
	await page.goto(`${servers.remote}/watch/movie/403`);
	const info = await expectPlays(page, { from: 0 });
	await attachInfo(testInfo, 'playback.json', { info, media });
	await snap(page, testInfo, 'playing-second-source');
	await expect(page.getByTestId('player')).toHaveAttribute('data-source-index', '1');
	// The 403 reached the player from the proxy (upstream_forbidden), once: no retry loop.
	expect(media.filter((m) => m.status === 403)).toHaveLength(1);
	// The only fatal error is the first source's 403; the second source played without any.
	const fatal = consoleLines.filter((line) => line.includes('FATAL'));
	expect(fatal).toHaveLength(1);
	expect(fatal[0]).toContain('403');
	expectNoFatal(consoleLines.filter((line) => line !== fatal[0]));
});

test('(d) with no source, the message gives each provider\'s reason', async ({ page, request }, testInfo) => {
	const resolved = (await (await request.get(`${servers.remote}/api/streaming/resolve/movie/404`)).json()) as ResolveResponse;
	expect(resolved.sources).toHaveLength(0);
	const byProvider = new Map(resolved.outcomes.map((o) => [o.provider, o]));
	expect([...byProvider.keys()].sort()).toEqual(['consumet', 'library']);
	await attachInfo(testInfo, 'resolve.json', resolved);

	await page.goto(`${servers.remote}/watch/movie/404`);
	const player = page.getByTestId('player');
	await expect(player).toHaveAttribute('data-state', 'error');
	await expect(player).toHaveAttribute('data-error', 'noSources');
	const message = page.getByTestId('player-error');
	await expect(message).toBeVisible();
	await expect(message).toContainText('Aucune source');
	await message.getByText('Détails techniques').click();
	const details = message.getByTestId('error-details');
	for (const outcome of resolved.outcomes) {
		const row = message.locator(`li[data-provider="${outcome.provider}"]`);
		await expect(row).toHaveAttribute('data-status', outcome.status);
		await expect(row).toContainText(fr[`provider.${outcome.provider}` as keyof typeof fr]);
		// Each provider's own reason, said in French from its code (library: "pas dans la
		// bibliothèque"); the server's English message is in the technical details.
		expect(outcome.code && outcome.message).toBeTruthy();
		await expect(row).toContainText(fr[`code.${outcome.code}` as keyof typeof fr]);
		await expect(row).not.toContainText(outcome.message!);
		await expect(details).toContainText(`${outcome.code}: ${outcome.message}`);
	}
	await expect(page.getByTestId('retry')).toBeVisible();
	await snap(page, testInfo, 'no-source');
});

test('Stremio: the SDK addon\'s header-requiring stream plays through the proxy', async ({ page, request, consoleLines }, testInfo) => {
	expect((await request.get(`${servers.consumet}/cdn/matrix/master.m3u8`)).status()).toBe(403);
	const resolved = (await (await request.get(`${servers.stremio}/api/streaming/resolve/movie/603`)).json()) as ResolveResponse;
	expect(resolved.sources.length).toBeGreaterThan(0);
	expect(resolved.sources[0].provider).toBe('stremio');
	expect(resolved.sources[0].proxy_url).toContain('/api/streaming/proxy');

	const media = recordMedia(page);
	await page.goto(`${servers.stremio}/watch/movie/603`);
	const info = await expectPlays(page, { from: 0 });
	await attachInfo(testInfo, 'playback.json', { info, media });
	await snap(page, testInfo, 'playing');
	expect(media.length).toBeGreaterThan(2);
	for (const m of media) {
		expect(m.url.startsWith(proxyPrefix(servers.stremio)), m.url).toBeTruthy();
		expect(m.status, m.url).toBeLessThan(400);
	}
	expectNoFatal(consoleLines);
});

test('the intro: the S key lands after it, and with auto-skip on the player skips it by itself', async ({ page, request, consoleLines }, testInfo) => {
	await clearProgress(request, servers.remote);
	const resolved = (await (await request.get(`${servers.remote}/api/streaming/resolve/movie/550`)).json()) as ResolveResponse;
	// The fake Consumet's intro, on the 20 s stream.
	expect(resolved.markers?.intro).toEqual({ start: 5, end: 12 });
	// Every seek the page makes (media events do not bubble, but they are captured at the document).
	await page.addInitScript(() => {
		const w = window as unknown as { seeks: number[] };
		w.seeks = [];
		document.addEventListener('seeking', (e) => w.seeks.push((e.target as HTMLVideoElement).currentTime), true);
	});
	const landedAtIntroEnd = () =>
		(window as unknown as { seeks: number[] }).seeks.some((t) => Math.abs(t - 12) < 0.01);

	await page.goto(`${servers.remote}/watch/movie/550`);
	await expectPlays(page, { from: 0, seconds: 1 });
	const skip = page.getByTestId('skip-intro');
	await expect(skip).toBeVisible();
	await expect(skip).toContainText('Passer l’intro');
	// Paused inside the intro: on a loaded machine the screenshot alone can outlast the 7 s
	// intro, which would then end by itself, without the key.
	await page.evaluate(() => document.querySelector<HTMLVideoElement>('[data-testid=player] video')!.pause());
	await snap(page, testInfo, 'skip-intro');
	await page.keyboard.press('s');
	await expect(skip).toBeHidden();
	expect(await page.evaluate(landedAtIntroEnd)).toBe(true);
	await page.evaluate(() => document.querySelector<HTMLVideoElement>('[data-testid=player] video')!.play());
	await expectPlays(page, { seconds: 1 });

	// Auto-skip on (what the settings switch stores), the same film from the start: the position
	// saved above (past the intro, not past 95 % of the 20 s stream) is not offered.
	await page.route(/\/api\/progress\/movie\/550/, (route) =>
		route.request().method() === 'GET'
			? route.fulfill({ status: 404, json: { error: { code: 'not_found', message: 'no saved position' } } })
			: route.continue()
	);
	await page.evaluate((key) => localStorage.setItem(key, JSON.stringify({ autoSkip: true })), PREFERENCES_KEY);
	await page.reload();
	await page.waitForFunction(landedAtIntroEnd);
	await expectPlays(page, { seconds: 1 });
	expect(await currentTime(page)).toBeGreaterThan(12);
	expectNoFatal(consoleLines);
});
