import { describe, expect, it, vi } from 'vitest';
import { progressUrl, resolveUrl } from './api/client';
import { earlyFetch, earlyKey, startEarlyRequests, watchProfile } from './early-resolve';

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
		startEarlyRequests({ pathname: '/watch/tv/1396', search: '?season=1&episode=2' }, target, early, () => 0);
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
		startEarlyRequests({ pathname: '/watch/movie/603', search: '' }, target, vi.fn().mockResolvedValue(answer()), () => 0);
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
		startEarlyRequests({ pathname: '/title/movie/603', search: '' }, target, early);
		expect(early).not.toHaveBeenCalled();
		expect(target.__sokoulEarly).toBeUndefined();
	});

	describe("preload the watch page's modules, and the player's HLS modules", () => {
		const modules = ['/_app/immutable/chunks/hls.js', '/_app/immutable/chunks/shared.js'];
		const page = ['/_app/immutable/nodes/7.js', '/_app/immutable/nodes/1.js'];
		const styles = ['/_app/immutable/assets/7.css'];
		const assets = { pageModules: page, pageStyles: styles, playerModules: modules };
		const body = (type: string) => JSON.stringify({ sources: [{ type, url: '/x' }, { type: 'mp4', url: '/y' }] });
		const links = (rel: string) =>
			[...document.head.querySelectorAll<HTMLLinkElement>(`link[rel="${rel}"]`)].map((l) => [
				new URL(l.href).pathname,
				l.as
			]);
		const preloaded = () => links('modulepreload').map(([path]) => path);
		const settle = () => new Promise((done) => setTimeout(done, 0));

		async function start(answerBody: string, status = 200, pathname = '/watch/movie/603') {
			document.head.replaceChildren();
			const target = { document } as unknown as Window;
			const early = vi.fn().mockImplementation(async () => new Response(answerBody, { status }));
			startEarlyRequests({ pathname, search: '' }, target, early, () => 0, assets);
			await settle();
			return target;
		}

		it("the page's at once, whatever the answer; nothing on another page", async () => {
			for (const [answer, status] of [
				[body('mp4'), 200],
				['{"error":{"code":"unauthorized","message":"no"}}', 401]
			] as const) {
				await start(answer, status);
				expect(preloaded()).toEqual(page);
				expect(links('preload')).toEqual([[styles[0], 'style']]);
			}
			await start(body('hls'), 200, '/title/movie/603');
			expect(preloaded()).toEqual([]);
			expect(links('preload')).toEqual([]);
		});

		it('the player when the first source is HLS, and the loader still reads the whole answer', async () => {
			const target = await start(body('hls'));
			expect(preloaded()).toEqual([...page, ...modules]);
			const url = resolveUrl({ media_type: 'movie', tmdb_id: 603 }, { profile: watchProfile() });
			const taken = await earlyFetch(target, vi.fn(), () => 0)(url);
			expect(await taken.json()).toEqual(JSON.parse(body('hls')));
		});

		it('not the player for a file the <video> plays as it is, nor for an error or nothing found', async () => {
			await start(body('mp4'));
			expect(preloaded()).toEqual(page);
			await start('{"error":{"code":"unauthorized","message":"no"}}', 401);
			expect(preloaded()).toEqual(page);
			await start('{"sources":[]}');
			expect(preloaded()).toEqual(page);
		});
	});
});
