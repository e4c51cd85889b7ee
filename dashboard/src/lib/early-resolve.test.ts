import { describe, expect, it, vi } from 'vitest';
import { progressUrl, resolveUrl } from './api/client';
import { earlyFetch, earlyKey, preloadLinks, startEarlyRequests, watchProfile } from './early-resolve';

describe('earlyKey', () => {
	it('reads a film and an episode as the watch page links them', () => {
		expect(earlyKey('/watch/movie/603', '')).toEqual({ media_type: 'movie', tmdb_id: 603 });
		expect(earlyKey('/watch/tv/1396', '?season=1&episode=2')).toEqual({
			media_type: 'tv',
			tmdb_id: 1396,
			season: 1,
			episode: 2
		});
	});

	it('leaves everything else to the loader', () => {
		for (const [path, search] of [
			['/', ''],
			['/title/movie/603', ''],
			['/watch/movie/0', ''],
			['/watch/movie/603x', ''],
			['/watch/movie/603', '?fresh=1'],
			['/watch/tv/1396', ''],
			['/watch/tv/1396', '?episode=2&season=1'],
			['/watch/book/1', '']
		]) {
			expect(earlyKey(path, search), `${path}${search}`).toBeNull();
		}
	});
});

describe('the early requests', () => {
	const answer = () => new Response('{"sources":[]}', { status: 200 });
	const episode = { media_type: 'tv', tmdb_id: 1396, season: 1, episode: 2 } as const;

	it("ask the loader's own URLs, the resolve with the player's profile, and hand each response over once", async () => {
		const target = {} as Window;
		const early = vi.fn().mockImplementation(async () => answer());
		startEarlyRequests({ pathname: '/watch/tv/1396', search: '?season=1&episode=2' }, target, {
			fetch: early,
			now: () => 0,
			preload: vi.fn()
		});
		const resolve = resolveUrl(episode, { profile: watchProfile() });
		expect(resolve).toContain('profile=');
		expect(early.mock.calls.map((c) => c[0])).toEqual([progressUrl(episode), resolve]);
		expect(early.mock.calls[1][1]).toMatchObject({ credentials: 'same-origin' });

		const later = vi.fn().mockImplementation(async () => answer());
		const fetch = earlyFetch(target, later, () => 100);
		await fetch(resolve);
		await fetch(progressUrl(episode));
		expect(later).not.toHaveBeenCalled();
		// Taken: the next request of the same URL ("Réessayer") is a real one.
		await fetch(resolve);
		expect(later).toHaveBeenCalledOnce();
	});

	it('are not handed to another URL, nor after they went stale', async () => {
		const target = {} as Window;
		startEarlyRequests({ pathname: '/watch/movie/603', search: '' }, target, {
			fetch: vi.fn().mockResolvedValue(answer()),
			now: () => 0,
			preload: vi.fn()
		});
		const url = resolveUrl({ media_type: 'movie', tmdb_id: 603 }, { profile: watchProfile() });

		const real = vi.fn().mockImplementation(async () => answer());
		await earlyFetch(target, real, () => 0)('/api/streaming/resolve/movie/604');
		expect(real).toHaveBeenCalledOnce();
		expect(target.__sokoulEarly?.[url]).toBeDefined();

		await earlyFetch(target, real, () => 60_000)(url);
		expect(real).toHaveBeenCalledTimes(2);
		expect(target.__sokoulEarly?.[url]).toBeUndefined();
	});

	it('start nothing away from a watch URL', () => {
		const target = {} as Window;
		const early = vi.fn();
		const preload = vi.fn();
		startEarlyRequests({ pathname: '/title/movie/603', search: '' }, target, { fetch: early, preload });
		expect(preload).not.toHaveBeenCalled();
		expect(early).not.toHaveBeenCalled();
		expect(target.__sokoulEarly).toBeUndefined();
	});

	describe('preload what the page will load', () => {
		const assets = { watch: ['/_app/immutable/nodes/7.js'], hls: ['/_app/immutable/chunks/hls.js'] };
		const source = (type: string) => ({ type, url: '/x', quality: 'auto' });
		const settle = () => new Promise((r) => setTimeout(r, 0));

		async function start(response: Response) {
			const target = {} as Window;
			const preload = vi.fn();
			const body = response.clone();
			startEarlyRequests({ pathname: '/watch/movie/603', search: '' }, target, {
				fetch: vi.fn().mockImplementation(async (url: string) => (url.includes('resolve') ? response : answer())),
				now: () => 0,
				assets,
				preload
			});
			await settle();
			// The loader still reads the whole answer after the early script looked at it.
			const url = resolveUrl({ media_type: 'movie', tmdb_id: 603 }, { profile: watchProfile() });
			const taken = await earlyFetch(target, vi.fn(), () => 0)(url);
			expect(await taken.text()).toBe(await body.text());
			return preload.mock.calls.map((c) => c[0]);
		}

		it('the watch route at once, and hls.js when the first source is a playlist', async () => {
			const hls = new Response(JSON.stringify({ sources: [source('hls'), source('mp4')] }));
			expect(await start(hls)).toEqual([assets.watch, assets.hls]);
		});

		it('not hls.js for a file the video element plays, an empty answer or an error', async () => {
			const mp4 = new Response(JSON.stringify({ sources: [source('mp4'), source('hls')] }));
			expect(await start(mp4)).toEqual([assets.watch]);
			expect(await start(new Response('{"sources":[]}'))).toEqual([assets.watch]);
			const error = new Response('{"error":{"code":"not_found","message":"x"}}', { status: 404 });
			expect(await start(error)).toEqual([assets.watch]);
		});

		it('as modules, style sheets, and the worker into the HTTP cache', () => {
			const doc = document.implementation.createHTMLDocument();
			const fetchSpy = vi.spyOn(globalThis, 'fetch').mockResolvedValue(answer());
			preloadLinks(doc, ['/_app/immutable/nodes/7.js', '/_app/immutable/assets/7.css', '/_app/immutable/assets/hls.worker.js']);
			const links = [...doc.head.querySelectorAll('link')].map((l) => [l.rel, l.getAttribute('as'), l.getAttribute('href')]);
			expect(links).toEqual([
				['modulepreload', null, '/_app/immutable/nodes/7.js'],
				['preload', 'style', '/_app/immutable/assets/7.css']
			]);
			expect(fetchSpy).toHaveBeenCalledWith('/_app/immutable/assets/hls.worker.js');
			fetchSpy.mockRestore();
		});
	});
});
