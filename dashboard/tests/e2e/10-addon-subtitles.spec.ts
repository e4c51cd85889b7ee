// Subtitles from a Stremio addon (issue 18, item 1): the real stremio-addon-sdk addon of
// tests/stremio-addon serves `subtitles` only, like OpenSubtitles v3: a French SRT written in
// Windows-1252 (`œ` is 0x9C and `€` 0x80 there, which Latin-1 lacks) and an English one in
// UTF-8. Sokoul's proxy serves them as UTF-8 WebVTT; the player shows the accents right.
import type { ResolveResponse } from '../../src/lib/api/types';
import { attachInfo, expect, expectNoFatal, expectPlays, servers, snap, test } from './support/fixtures';

const FRENCH = 'Français · Sokoul Test Subtitles';
/** The same track in the (French) menu: its language named by the dashboard, then the addon. */
const FRENCH_IN_MENU = 'Français – Sokoul Test Subtitles';

test('a French addon subtitle in Windows-1252 shows its accents on screen', async ({ page, request, consoleLines }, testInfo) => {
	const resolved = (await (await request.get(`${servers.stremio}/api/streaming/resolve/movie/603`)).json()) as ResolveResponse;
	const french = resolved.subtitles.find((s) => s.label === FRENCH);
	expect(french, JSON.stringify(resolved.subtitles)).toBeTruthy();
	expect(french!.lang).toBe('fr');
	const vtt = await request.get(`${servers.stremio}${french!.proxy_url}`);
	expect(vtt.headers()['content-type']).toBe('text/vtt; charset=utf-8');
	await attachInfo(testInfo, 'french.vtt.json', { text: await vtt.text() });

	await page.goto(`${servers.stremio}/watch/movie/603`);
	await expectPlays(page, { from: 0, seconds: 1 });
	await page.getByRole('button', { name: 'Sous-titres', exact: true }).click();
	await page.getByRole('button', { name: FRENCH_IN_MENU }).click();
	await page.keyboard.press('Escape');

	// The first cue runs from 0 to 30 s, on two lines.
	const cues = page.locator('[data-testid=player] .cues');
	await expect(cues).toContainText("Ça démarre à l'été", { timeout: 20_000 });
	await expect(cues).toContainText('Une œuvre à 5 €');
	await snap(page, testInfo, 'french-cue-with-accents');
	expectNoFatal(consoleLines);
});
