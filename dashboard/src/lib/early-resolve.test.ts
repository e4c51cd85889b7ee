import { describe, expect, it, vi } from 'vitest';
import { resolveUrl } from './api/client';
import { earlyFetch, earlyKey, startEarlyResolve, watchProfile } from './early-resolve';

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

describe('the early resolve', () => {
	const answer = () => new Response('{"sources":[]}', { status: 200 });

	it("asks the loader's own URL, with the player's profile, and hands the response over once", async () => {
		const target = {} as Window;
		const early = vi.fn().mockResolvedValue(answer());
		startEarlyResolve({ pathname: '/watch/tv/1396', search: '?season=1&episode=2' }, target, early, () => 0);
		const url = resolveUrl({ media_type: 'tv', tmdb_id: 1396, season: 1, episode: 2 }, { profile: watchProfile() });
		expect(early).toHaveBeenCalledOnce();
		expect(early.mock.calls[0][0]).toBe(url);
		expect(url).toContain('profile=');
		expect(early.mock.calls[0][1]).toMatchObject({ credentials: 'same-origin' });

		const later = vi.fn().mockResolvedValue(answer());
		const fetch = earlyFetch(target, later, () => 100);
		await fetch(url);
		expect(later).not.toHaveBeenCalled();
		// Taken: the next request of the same URL ("Réessayer") is a real one.
		await fetch(url);
		expect(later).toHaveBeenCalledOnce();
	});

	it('is not handed to another URL, nor after it went stale', async () => {
		const target = {} as Window;
		startEarlyResolve({ pathname: '/watch/movie/603', search: '' }, target, vi.fn().mockResolvedValue(answer()), () => 0);
		const url = target.__sokoulEarlyResolve!.url;

		const real = vi.fn().mockResolvedValue(answer());
		await earlyFetch(target, real, () => 0)('/api/streaming/resolve/movie/604');
		expect(real).toHaveBeenCalledOnce();
		expect(target.__sokoulEarlyResolve).toBeDefined();

		await earlyFetch(target, real, () => 60_000)(url);
		expect(real).toHaveBeenCalledTimes(2);
		expect(target.__sokoulEarlyResolve).toBeUndefined();
	});

	it('starts nothing away from a watch URL', () => {
		const target = {} as Window;
		const early = vi.fn();
		startEarlyResolve({ pathname: '/title/movie/603', search: '' }, target, early);
		expect(early).not.toHaveBeenCalled();
		expect(target.__sokoulEarlyResolve).toBeUndefined();
	});
});
