// The viewer's languages (issue 15, item 5), on a server of their own (scripts/e2e.sh): movie
// 9160 has English (default, the original) and French audio and French + English subtitles;
// series 9161 has two episodes with English and French audio. The library's HLS lists each
// audio track as an EXT-X-MEDIA rendition `a{n}/` (a0 English, a1 French).
import type { Page } from '@playwright/test';
import { expect, expectNoFatal, expectPlays, servers, snap, test } from './support/fixtures';

test.use({ baseURL: servers.langs });

/** Audio renditions hls.js fetched (`a0`, `a1`), in order. */
function audioRenditions(page: Page): string[] {
	const seen: string[] = [];
	page.on('request', (r) => {
		const m = /\/hls\/(a\d+)\//.exec(r.url());
		if (m) seen.push(m[1]);
	});
	return seen;
}

async function openSettings(page: Page): Promise<void> {
	await page.getByTestId('player').hover();
	await page.getByRole('button', { name: 'Réglages' }).click();
}

/** The value the settings menu shows for a row (the audio track playing). */
async function settingsValue(page: Page, row: string): Promise<string> {
	await openSettings(page);
	const value = await page.getByRole('button', { name: new RegExp(`^${row}`) }).locator('.value').innerText();
	await page.keyboard.press('Escape');
	return value;
}

test('with VOSTFR a film starts in its original language with French subtitles; a series keeps the last choice', async ({
	page,
	request,
	consoleLines
}, testInfo) => {
	for (const path of ['/api/streaming/library/movie/9160', '/api/streaming/library/tv/9161?season=1&episode=2']) {
		await expect.poll(async () => (await request.get(path)).ok(), { timeout: 60_000 }).toBe(true);
	}
	const renditions = audioRenditions(page);

	// VOSTFR chosen in the player's "Langues" menu (saved on the server), then the film starts again.
	await page.goto('/watch/movie/9160');
	await expectPlays(page, { timeout: 45_000 });
	await openSettings(page);
	await page.getByTestId('languages-row').click();
	const saved = page.waitForResponse((r) => r.url().endsWith('/api/preferences/languages') && r.request().method() === 'PUT');
	await page.locator('[data-language-mode=vostfr]').click();
	expect((await saved).status()).toBe(200);
	await page.keyboard.press('Escape');

	renditions.length = 0;
	await page.reload();
	await expectPlays(page, { timeout: 45_000 });
	await expect(page.locator('.cues')).toContainText('Sous-titre français', { timeout: 20_000 });
	expect(await settingsValue(page, 'Audio')).toBe('Anglais');
	expect(renditions, 'only the English rendition was loaded').not.toContain('a1');
	expect(renditions).toContain('a0');
	await snap(page, testInfo, 'vostfr-film-english-audio-french-subtitles');
	await openSettings(page);
	await snap(page, testInfo, 'vostfr-film-settings-menu');
	await page.keyboard.press('Escape');

	// Episode 1 starts in English too; the viewer picks French.
	await page.goto('/watch/tv/9161?season=1&episode=1');
	await expectPlays(page, { timeout: 45_000 });
	expect(await settingsValue(page, 'Audio')).toBe('Anglais');
	await openSettings(page);
	await page.getByRole('button', { name: /^Audio/ }).click();
	const choice = page.waitForResponse((r) => r.url().endsWith('/api/preferences/series/9161') && r.request().method() === 'PUT');
	await page.getByRole('button', { name: 'Français', exact: true }).click();
	expect((await choice).status()).toBe(204);
	await page.keyboard.press('Escape');
	await snap(page, testInfo, 'episode-1-french-picked');

	// Episode 2 starts in French: the series' last choice, kept on the server (not this
	// browser's storage, emptied here), wins over VOSTFR.
	await page.evaluate(() => localStorage.clear());
	renditions.length = 0;
	await page.goto('/watch/tv/9161?season=1&episode=2');
	await expectPlays(page, { timeout: 45_000 });
	expect(await settingsValue(page, 'Audio')).toBe('Français');
	await expect.poll(() => renditions.includes('a1')).toBe(true);
	await openSettings(page);
	await snap(page, testInfo, 'episode-2-starts-in-french');
	await page.keyboard.press('Escape');
	expectNoFatal(consoleLines);
});
