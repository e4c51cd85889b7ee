// The playback engine in Debian's Chromium (docs/playback.md): the player sends the profile it
// measured (capabilities.ts), and the server packages each library file for it, or lets the
// browser play it as it is. Films made by scripts/e2e.sh: movie 905 = VP9 + Opus WebM, movie
// 9150 = AV1 + Opus MKV with a French and an English track, movie 906 = a phone video lying on
// its side with a 90° display matrix and `moov` at the end, movie 9145 = H.264 + AAC + ASS MKV.
import { attachInfo, expect, expectNoFatal, expectPlays, refuseFileTypes, servers, snap, test } from './support/fixtures';

test.use({ baseURL: servers.local });

test('a VP9 + Opus WebM plays in Chromium as it is: no ffmpeg, no HLS', async ({ page, request, consoleLines }, testInfo) => {
	const media: string[] = [];
	page.on('request', (r) => {
		if (r.url().includes('/api/media/') && !r.url().includes('thumbnails')) media.push(r.url());
	});
	// The file comes first, with its type for the browser to judge; its HLS packaging after it.
	const answer = await (await request.get('/api/streaming/resolve/movie/905')).json();
	expect(answer.sources.map((s: { type: string }) => s.type)).toEqual(['mp4', 'hls']);
	expect(answer.sources[0].mime).toBe('video/webm; codecs="vp09.00.41.08, opus"');

	await page.goto('/watch/movie/905');
	const info = await expectPlays(page, { from: 0, timeout: 45_000 });
	await attachInfo(testInfo, 'playback.json', { info, media });
	await snap(page, testInfo, 'playing');
	expect(new URL(info.src).pathname).toMatch(/^\/api\/media\/\d+\/file$/);
	expect(media.filter((u) => u.includes('/hls/')), 'nothing packaged').toEqual([]);
	expect(await page.getByTestId('player').getAttribute('data-source-index')).toBe('0');
	expectNoFatal(consoleLines);
});

test('an H.264 + AAC MKV plays in Chromium as it is, its styled subtitle track still offered', async ({ page, request, consoleLines }, testInfo) => {
	// Movie 9145 (scripts/e2e.sh): H.264 + AAC + an ASS track in Matroska. Chromium's Matroska
	// demuxer plays it from the file; Firefox and Safari answer "" for its type and get the HLS
	// packaging listed after it.
	await expect
		.poll(async () => (await request.get('/api/streaming/library/movie/9145')).ok(), { timeout: 60_000 })
		.toBe(true);
	const answer = await (await request.get('/api/streaming/resolve/movie/9145')).json();
	expect(answer.sources.map((s: { type: string }) => s.type)).toEqual(['mp4', 'hls']);
	expect(answer.sources[0].mime).toMatch(/^video\/x-matroska; codecs="avc1\.[0-9A-F]{6}, mp4a\.40\.2"$/);
	const packaged: string[] = [];
	page.on('request', (r) => {
		if (r.url().includes('/api/media/') && r.url().includes('/hls/')) packaged.push(r.url());
	});
	await page.goto('/watch/movie/9145');
	const info = await expectPlays(page, { from: 0, timeout: 45_000 });
	await attachInfo(testInfo, 'playback.json', { info, packaged });
	expect(new URL(info.src).pathname).toMatch(/^\/api\/media\/\d+\/file$/);
	expect(packaged, 'nothing packaged').toEqual([]);
	// Its subtitle track is the library's, whatever source plays.
	await page.getByRole('button', { name: 'Sous-titres', exact: true }).click();
	await expect(page.getByRole('button', { name: 'Anglais – Signs' })).toBeVisible();
	expectNoFatal(consoleLines);
});

test('a browser that does not play WebM files as they are gets the same film packaged, never tried as a file', async ({
	page,
	consoleLines
}) => {
	// Safari's answer for a WebM file; MSE (what hls.js feeds) still takes VP9 + Opus in fMP4.
	await refuseFileTypes(page, /webm|matroska/);
	const files: string[] = [];
	const masters: string[] = [];
	page.on('request', (r) => {
		if (/\/api\/media\/\d+\/file/.test(r.url())) files.push(r.url());
	});
	page.on('response', async (r) => {
		if (r.url().includes('/hls/master.m3u8') && r.ok()) masters.push(await r.text());
	});
	await page.goto('/watch/movie/905');
	const info = await expectPlays(page, { from: 0, timeout: 45_000 });
	expect(info.src).toMatch(/^blob:/);
	expect(files, 'the file was never fetched').toEqual([]);
	expect(masters.join('\n')).toContain('VALUE="direct_stream"');
	// The player's list holds only what plays here: the packaging is its first source.
	expect(await page.getByTestId('player').getAttribute('data-source-index')).toBe('0');
	expectNoFatal(consoleLines);
});

test('an AV1 + Opus MKV with two audio tracks plays in Chromium remuxed, without a transcode', async ({
	page,
	request,
	consoleLines
}, testInfo) => {
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
	const workers: string[] = [];
	page.on('worker', (w) => workers.push(w.url()));
	// A <video> plays one audio track: the file is not offered as it is, only its packaging.
	const answer = await (await request.get('/api/streaming/resolve/movie/9150')).json();
	expect(answer.sources.map((s: { type: string }) => s.type)).toEqual(['hls']);

	await page.goto('/watch/movie/9150');
	const info = await expectPlays(page, { from: 0, timeout: 45_000 });
	await attachInfo(testInfo, 'playback.json', { info, urls, masters, workers });
	await snap(page, testInfo, 'playing');
	expect(info.src).toMatch(/^blob:/); // hls.js
	const master = masters.join('\n');
	expect(master, 'the server chose to copy every stream').toContain('DATA-ID="com.sokoul.playback.mode",VALUE="direct_stream"');
	// Both audio tracks are renditions the player can switch between.
	expect(master).toContain('LANGUAGE="fr"');
	expect(master).toContain('LANGUAGE="en"');
	// Every HLS URL carried the measured profile, and the segments are fMP4.
	for (const url of urls) expect(new URL(url).searchParams.get('profile'), url).toMatch(/^1:.*\bav1\b/);
	const init = urls.find((u) => u.includes('/v/init.mp4'));
	expect(init, 'the video rendition has an init segment').toBeTruthy();
	expect(urls.some((u) => /\/v\/\d+\.m4s/.test(u))).toBe(true);
	// The served init segment holds the source's codec (its sample entry), not H.264 (`avc1`).
	const body = (await (await request.get(init!)).body()).toString('latin1');
	expect(body).toContain('av01');
	expect(body).not.toContain('avc1');
	// fMP4 needs no transmuxing: hls.js ran without its worker (`workerOnlyToTransmux`).
	expect(workers.filter((u) => /hls\.worker/.test(u)), 'no hls.js worker for fMP4').toEqual([]);
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
