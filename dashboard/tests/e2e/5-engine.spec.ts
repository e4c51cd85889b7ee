// The playback engine in Debian's Chromium (docs/playback.md): the player sends the profile it
// measured (capabilities.ts), and the server packages each library file for it. Films made by
// scripts/e2e.sh: movie 905 = VP9 + Opus WebM, movie 906 = a phone video lying on its side
// with a 90° display matrix and `moov` at the end.
import { attachInfo, expect, expectNoFatal, expectPlays, servers, snap, test } from './support/fixtures';

test.use({ baseURL: servers.local });

test('a VP9 film plays in Chromium remuxed, without a transcode', async ({ page, request, consoleLines }, testInfo) => {
	const urls: string[] = [];
	const masters: string[] = [];
	// The HLS URLs only: the profile is theirs (the thumbnails track and the subtitles do not
	// depend on what the browser decodes).
	page.on('request', (r) => {
		if (r.url().includes('/api/media/') && r.url().includes('/hls/')) urls.push(r.url());
	});
	page.on('response', async (r) => {
		if (r.url().includes('/hls/master.m3u8') && r.ok()) masters.push(await r.text());
	});
	await page.goto('/watch/movie/905');
	const info = await expectPlays(page, { from: 0, timeout: 45_000 });
	await attachInfo(testInfo, 'playback.json', { info, urls, masters });
	await snap(page, testInfo, 'playing');
	expect(info.src).toMatch(/^blob:/); // hls.js
	expect(masters.join('\n'), 'the server chose to copy every stream').toContain(
		'DATA-ID="com.sokoul.playback.mode",VALUE="direct_stream"'
	);
	// Every HLS URL carried the measured profile, and the segments are fMP4.
	for (const url of urls) expect(new URL(url).searchParams.get('profile'), url).toMatch(/^1:.*\bvp9\b/);
	const init = urls.find((u) => u.includes('/v/init.mp4'));
	expect(init, 'the video rendition has an init segment').toBeTruthy();
	expect(urls.some((u) => /\/v\/\d+\.m4s/.test(u))).toBe(true);
	// The served init segment holds the source's VP9 (`vp09` sample entry), not H.264 (`avc1`).
	const body = (await (await request.get(init!)).body()).toString('latin1');
	expect(body).toContain('vp09');
	expect(body).not.toContain('avc1');
	expectNoFatal(consoleLines);
});

test('a portrait phone video is taller than wide in the player', async ({ page, consoleLines }, testInfo) => {
	await page.goto('/watch/movie/906');
	const info = await expectPlays(page, { from: 0, timeout: 45_000 });
	await attachInfo(testInfo, 'playback.json', info);
	await snap(page, testInfo, 'playing');
	expect(info.height, `${info.width}x${info.height}`).toBeGreaterThan(info.width);
	expectNoFatal(consoleLines);
});
