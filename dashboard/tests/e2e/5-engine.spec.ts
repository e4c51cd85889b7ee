// The playback engine in Debian's Chromium (docs/playback.md): the player sends the profile it
// measured (capabilities.ts), and the server packages each library file for it. Films made by
// scripts/e2e.sh: movie 905 = VP9 + Opus WebM, movie 9150 = AV1 + Opus MKV, movie 906 = a phone
// video lying on its side with a 90° display matrix and `moov` at the end.
import { attachInfo, expect, expectNoFatal, expectPlays, servers, snap, test } from './support/fixtures';

test.use({ baseURL: servers.local });

for (const film of [
	{ id: 905, name: 'a VP9 + Opus WebM', codec: 'vp9', entry: 'vp09' },
	{ id: 9150, name: 'an AV1 + Opus MKV', codec: 'av1', entry: 'av01' }
]) {
	test(`${film.name} plays in Chromium remuxed, without a transcode`, async ({ page, request, consoleLines }, testInfo) => {
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
		await page.goto(`/watch/movie/${film.id}`);
		const info = await expectPlays(page, { from: 0, timeout: 45_000 });
		await attachInfo(testInfo, 'playback.json', { info, urls, masters });
		await snap(page, testInfo, 'playing');
		expect(info.src).toMatch(/^blob:/); // hls.js
		expect(masters.join('\n'), 'the server chose to copy every stream').toContain(
			'DATA-ID="com.sokoul.playback.mode",VALUE="direct_stream"'
		);
		// Every HLS URL carried the measured profile, and the segments are fMP4.
		const decodes = new RegExp(`^1:.*\\b${film.codec}\\b`);
		for (const url of urls) expect(new URL(url).searchParams.get('profile'), url).toMatch(decodes);
		const init = urls.find((u) => u.includes('/v/init.mp4'));
		expect(init, 'the video rendition has an init segment').toBeTruthy();
		expect(urls.some((u) => /\/v\/\d+\.m4s/.test(u))).toBe(true);
		// The served init segment holds the source's codec (its sample entry), not H.264 (`avc1`).
		const body = (await (await request.get(init!)).body()).toString('latin1');
		expect(body).toContain(film.entry);
		expect(body).not.toContain('avc1');
		expectNoFatal(consoleLines);
	});
}

test('a portrait phone video is taller than wide in the player', async ({ page, consoleLines }, testInfo) => {
	await page.goto('/watch/movie/906');
	const info = await expectPlays(page, { from: 0, timeout: 45_000 });
	await attachInfo(testInfo, 'playback.json', info);
	await snap(page, testInfo, 'playing');
	expect(info.height, `${info.width}x${info.height}`).toBeGreaterThan(info.width);
	expectNoFatal(consoleLines);
});
