import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
	ApiError,
	fetchSubtitleText,
	forgetLegacyToken,
	getLibraryItem,
	getLibraryItems,
	getMetadata,
	getSeasonMetadata,
	getOpenApiDocument,
	getProgress,
	getProgressList,
	getAuthState,
	getProxyUrl,
	LEGACY_TOKEN_KEY,
	login,
	logout,
	logoutEverywhere,
	onUnauthorized,
	reportSource,
	search,
	resolveStreams,
	saveProgress,
	setupAdmin
} from '$lib/api/client';
import type { ResolveResponse } from '$lib/api/types';

function json(body: unknown, status = 200): Response {
	return new Response(JSON.stringify(body), {
		status,
		headers: { 'Content-Type': 'application/json' }
	});
}

const resolved: ResolveResponse = {
	media: { media_type: 'tv', tmdb_id: 1396, season: 1, episode: 2, title: 'Breaking Bad' },
	sources: [
		{
			url: 'https://cdn.example/master.m3u8',
			proxy_url: '/api/streaming/proxy?t=abc',
			type: 'hls',
			quality: '1080p',
			provider: 'consumet',
			headers: { Referer: 'https://embed.example/' }
		}
	],
	subtitles: [],
	markers: { intro: { start: 30, end: 95.5 } },
	outcomes: [{ provider: 'consumet', status: 'ok', sources: 1, elapsed_ms: 412 }],
	cached: false
};

/** The first call's URL and init, typed. */
function firstCall(mock: ReturnType<typeof vi.fn>): [string, RequestInit] {
	expect(mock).toHaveBeenCalledTimes(1);
	return mock.mock.calls[0] as [string, RequestInit];
}

beforeEach(() => localStorage.clear());
afterEach(() => vi.unstubAllGlobals());

describe('resolveStreams', () => {
	it('calls the resolve route with season and episode for an episode and returns the body', async () => {
		const fetchMock = vi.fn().mockResolvedValue(json(resolved));

		const result = await resolveStreams(
			{ media_type: 'tv', tmdb_id: 1396, season: 1, episode: 2 },
			{ fetch: fetchMock }
		);

		const [url, init] = firstCall(fetchMock);
		expect(url).toBe('/api/streaming/resolve/tv/1396?season=1&episode=2');
		expect(init.method).toBe('GET');
		expect(result.sources[0].proxy_url).toBe('/api/streaming/proxy?t=abc');
		expect(result.markers?.intro).toEqual({ start: 30, end: 95.5 });
	});

	it('asks for a fresh answer past the cache when told to', async () => {
		const fetchMock = vi.fn().mockImplementation(async () => json(resolved));
		await resolveStreams({ media_type: 'movie', tmdb_id: 603 }, { fetch: fetchMock, fresh: true });
		await resolveStreams(
			{ media_type: 'tv', tmdb_id: 1396, season: 1, episode: 2 },
			{ fetch: fetchMock, fresh: true }
		);
		expect(fetchMock.mock.calls.map((c) => c[0])).toEqual([
			'/api/streaming/resolve/movie/603?fresh=1',
			'/api/streaming/resolve/tv/1396?season=1&episode=2&fresh=1'
		]);
	});

	it("carries the browser's profile in its own parameter when given one", async () => {
		const fetchMock = vi.fn().mockImplementation(async () => json(resolved));
		await resolveStreams(
			{ media_type: 'tv', tmdb_id: 1396, season: 1, episode: 2 },
			{ fetch: fetchMock, profile: '1:avc,vp9,aac,max=720' }
		);
		const url = new URL(String(fetchMock.mock.calls[0][0]), 'http://x');
		expect(url.pathname).toBe('/api/streaming/resolve/tv/1396');
		expect(Object.fromEntries(url.searchParams)).toEqual({
			season: '1',
			episode: '2',
			profile: '1:avc,vp9,aac,max=720'
		});
	});

	it('sends no season or episode for a movie', async () => {
		const fetchMock = vi.fn().mockResolvedValue(json({ ...resolved, sources: [] }));

		await resolveStreams({ media_type: 'movie', tmdb_id: 603 }, { fetch: fetchMock });

		expect(firstCall(fetchMock)[0]).toBe('/api/streaming/resolve/movie/603');
	});

	it('uses the global fetch when none is given', async () => {
		const fetchMock = vi.fn().mockResolvedValue(json(resolved));
		vi.stubGlobal('fetch', fetchMock);

		await resolveStreams({ media_type: 'movie', tmdb_id: 603 });

		expect(firstCall(fetchMock)[0]).toBe('/api/streaming/resolve/movie/603');
	});

	it('passes the abort signal through', async () => {
		const fetchMock = vi.fn().mockResolvedValue(json(resolved));
		const controller = new AbortController();

		await resolveStreams({ media_type: 'movie', tmdb_id: 603 }, { fetch: fetchMock, signal: controller.signal });

		expect(firstCall(fetchMock)[1].signal).toBe(controller.signal);
	});
});

/** Every call of the client, each with the arguments it needs: they all share one request path. */
const everyCall: Array<[string, (fetch: typeof globalThis.fetch) => Promise<unknown>]> = [
	['resolveStreams', (fetch) => resolveStreams({ media_type: 'movie', tmdb_id: 603 }, { fetch })],
	['getLibraryItems', (fetch) => getLibraryItems({ fetch })],
	['getLibraryItem', (fetch) => getLibraryItem('tv', 1396, { fetch })],
	['getMetadata', (fetch) => getMetadata('movie', 603, { fetch })],
	['getOpenApiDocument', (fetch) => getOpenApiDocument({ fetch })],
	['getProgressList', (fetch) => getProgressList({ fetch })],
	['getProgress', (fetch) => getProgress({ media_type: 'movie', tmdb_id: 603 }, { fetch })],
	[
		'saveProgress',
		(fetch) => saveProgress({ media_type: 'movie', tmdb_id: 603 }, { position: 1, duration: 2 }, { fetch })
	],
	['login', (fetch) => login('alice', 'correct horse', { fetch })],
	[
		'fetchSubtitleText',
		(fetch) =>
			fetchSubtitleText({ url: '/api/streaming/proxy?s', lang: 'fr', label: 'Français', provider: 'x' }, { fetch })
	]
];

describe.each(everyCall)('%s maps failures like every other call', (_name, call) => {
	it('a network failure is network_error with status 0', async () => {
		const error = await call(vi.fn().mockRejectedValue(new TypeError('Failed to fetch'))).catch((e: unknown) => e);

		expect(error).toBeInstanceOf(ApiError);
		expect(error).toMatchObject({ status: 0, code: 'network_error', message: 'Failed to fetch' });
	});

	it('an {error:{code,message}} body keeps its code, message and status', async () => {
		const body = { error: { code: 'upstream_unavailable', message: 'the provider did not answer' } };

		const error = await call(vi.fn().mockResolvedValue(json(body, 503))).catch((e: unknown) => e);

		expect(error).toBeInstanceOf(ApiError);
		expect(error).toMatchObject({ status: 503, code: 'upstream_unavailable', message: 'the provider did not answer' });
	});

	it('a 5xx that is not JSON is http_<status>', async () => {
		const html = new Response('<html><body>502 Bad Gateway</body></html>', {
			status: 502,
			headers: { 'Content-Type': 'text/html' }
		});

		const error = await call(vi.fn().mockResolvedValue(html)).catch((e: unknown) => e);

		expect(error).toBeInstanceOf(ApiError);
		expect(error).toMatchObject({ status: 502, code: 'http_502', message: 'HTTP 502' });
	});

	it('the caller’s abort comes back as is, not as a failure', async () => {
		const abort = new DOMException('The operation was aborted.', 'AbortError');

		await expect(call(vi.fn().mockRejectedValue(abort))).rejects.toBe(abort);
	});
});

describe('reportSource', () => {
	it('posts the source, the stage and the player code, and never throws', async () => {
		const fetchMock = vi.fn().mockResolvedValue(json({ failing_for: 300 }, 202));
		await reportSource('/api/streaming/proxy?c=1', 'segment', 'fragLoadError', { fetch: fetchMock });
		const [url, init] = firstCall(fetchMock);
		expect(url).toBe('/api/streaming/report');
		expect(init.method).toBe('POST');
		expect(JSON.parse(init.body as string)).toEqual({
			proxy_url: '/api/streaming/proxy?c=1',
			stage: 'segment',
			code: 'fragLoadError'
		});
		const refused = vi.fn().mockResolvedValue(json({ error: { code: 'proxy_url_invalid', message: 'no' } }, 403));
		await expect(reportSource('/x', 'manifest', 'e', { fetch: refused })).resolves.toBeUndefined();
	});
});

describe('ApiError', () => {
	it('is parsed from the {error:{code,message}} body with the HTTP status', async () => {
		const fetchMock = vi
			.fn()
			.mockResolvedValue(
				json({ error: { code: 'invalid_media_type', message: 'media_type must be movie or tv' } }, 400)
			);

		const error = await resolveStreams({ media_type: 'movie', tmdb_id: 1 }, { fetch: fetchMock }).catch(
			(e: unknown) => e
		);

		expect(error).toBeInstanceOf(ApiError);
		expect(error).toMatchObject({
			status: 400,
			code: 'invalid_media_type',
			message: 'media_type must be movie or tv'
		});
	});

	it('falls back to http_<status> when the body is not the error shape', async () => {
		const fetchMock = vi.fn().mockResolvedValue(new Response('<html>Bad gateway</html>', { status: 502 }));

		const error = await getLibraryItems({ fetch: fetchMock }).catch((e: unknown) => e);

		expect(error).toMatchObject({ status: 502, code: 'http_502' });
	});

	it('reports a transport failure as network_error with status 0', async () => {
		const fetchMock = vi.fn().mockRejectedValue(new TypeError('Failed to fetch'));

		const error = await getLibraryItems({ fetch: fetchMock }).catch((e: unknown) => e);

		expect(error).toBeInstanceOf(ApiError);
		expect(error).toMatchObject({ status: 0, code: 'network_error', message: 'Failed to fetch' });
	});

	it('lets an abort through untouched', async () => {
		const abort = new DOMException('The operation was aborted.', 'AbortError');
		const fetchMock = vi.fn().mockRejectedValue(abort);

		await expect(getLibraryItems({ fetch: fetchMock })).rejects.toBe(abort);
	});
});

describe('authorization', () => {
	it('sends our calls with the same-origin session cookie and no Authorization header', async () => {
		const fetchMock = vi.fn().mockResolvedValue(json({ items: [] }));

		await getLibraryItems({ fetch: fetchMock });

		const init = firstCall(fetchMock)[1];
		expect(init.credentials).toBe('same-origin');
		expect(init.headers).not.toHaveProperty('Authorization');
	});

	it('reports a missing session on the OpenAPI document as a 401 ApiError', async () => {
		const fetchMock = vi
			.fn()
			.mockResolvedValue(json({ error: { code: 'unauthorized', message: 'log in' } }, 401));

		await expect(getOpenApiDocument({ fetch: fetchMock })).rejects.toMatchObject({
			status: 401,
			code: 'unauthorized'
		});
	});

	it('never sends the cookie to a third-party subtitle host', async () => {
		const fetchMock = vi.fn().mockResolvedValue(new Response('WEBVTT\n'));

		await fetchSubtitleText(
			{ url: 'https://subs.example/en.vtt', lang: 'en', label: 'English', provider: 'stremio' },
			{ fetch: fetchMock }
		);

		const [url, init] = firstCall(fetchMock);
		expect(url).toBe('https://subs.example/en.vtt');
		expect(init.credentials).toBe('omit');
		expect(init.headers).not.toHaveProperty('Authorization');
	});

	it('removes a token an earlier version left in localStorage', () => {
		localStorage.setItem(LEGACY_TOKEN_KEY, 's3cret');
		forgetLegacyToken();
		expect(localStorage.getItem(LEGACY_TOKEN_KEY)).toBeNull();
	});
});

describe('accounts', () => {
	it('logs in with a JSON body and keeps nothing in localStorage', async () => {
		const fetchMock = vi.fn().mockResolvedValue(json({ username: 'alice', role: 'member' }));

		const me = await login('alice', 'correct horse', { fetch: fetchMock });

		const [url, init] = firstCall(fetchMock);
		expect(url).toBe('/api/auth/login');
		expect(init.method).toBe('POST');
		expect(JSON.parse(init.body as string)).toEqual({ username: 'alice', password: 'correct horse' });
		expect(me.username).toBe('alice');
		expect(localStorage.length).toBe(0);
	});

	it('reports a wrong password as an ApiError without telling the login-form listeners', async () => {
		const listener = vi.fn();
		const fetchMock = vi
			.fn()
			.mockResolvedValue(json({ error: { code: 'invalid_credentials', message: 'wrong' } }, 401));
		await expect(login('alice', 'nope', { fetch: fetchMock })).rejects.toMatchObject({
			status: 401,
			code: 'invalid_credentials'
		});
		const stop = onUnauthorized(listener);
		stop();
		// Only a 401 on a page's own call opens the login form; earlier tests may have seen one.
		expect(listener.mock.calls.length).toBeLessThanOrEqual(1);
	});

	it('sends the API token once, on the first-run call of a server that has one', async () => {
		const fetchMock = vi.fn().mockResolvedValue(json({ username: 'admin', role: 'admin' }, 201));

		await setupAdmin('admin', 'correct horse', 'tok', { fetch: fetchMock });

		const [url, init] = firstCall(fetchMock);
		expect(url).toBe('/api/auth/setup');
		expect((init.headers as Record<string, string>).Authorization).toBe('Bearer tok');
		expect(localStorage.length).toBe(0);
	});

	it('reads the state and logs out', async () => {
		const state = { setup_needed: false, setup_needs_token: false, user: { username: 'alice', role: 'admin' } };
		const fetchMock = vi.fn().mockResolvedValueOnce(json(state)).mockResolvedValueOnce(new Response(null, { status: 204 }));

		expect(await getAuthState({ fetch: fetchMock })).toEqual(state);
		await logout({ fetch: fetchMock });
		expect(fetchMock.mock.calls[1][0]).toBe('/api/auth/logout');
		expect(fetchMock.mock.calls[1][1].method).toBe('POST');
	});

	it('logs out everywhere by ending every session of the account', async () => {
		const fetchMock = vi.fn().mockResolvedValue(json({ ended: 3 }));

		await logoutEverywhere({ fetch: fetchMock });

		const [url, init] = firstCall(fetchMock);
		expect(url).toBe('/api/auth/sessions');
		expect(init.method).toBe('DELETE');
	});
});

describe('getProxyUrl', () => {
	const source = {
		url: 'https://cdn.example/master.m3u8',
		type: 'hls' as const,
		quality: 'auto',
		provider: 'consumet',
		headers: {}
	};

	it('prefers the proxy URL', () => {
		expect(getProxyUrl({ ...source, proxy_url: '/api/streaming/proxy?t=x' })).toBe(
			'/api/streaming/proxy?t=x'
		);
	});

	it('uses the direct URL when there is no proxy URL', () => {
		expect(getProxyUrl(source)).toBe('https://cdn.example/master.m3u8');
		expect(getProxyUrl({ ...source, proxy_url: '' })).toBe('https://cdn.example/master.m3u8');
	});
});

describe('library and progress', () => {
	it('getLibraryItems unwraps the items array', async () => {
		const item = {
			media_type: 'movie',
			tmdb_id: 603,
			title: 'The Matrix',
			year: 1999,
			poster_url: '/api/library/poster/movie/603',
			overview: null
		};
		const fetchMock = vi.fn().mockResolvedValue(json({ items: [item] }));

		expect(await getLibraryItems({ fetch: fetchMock })).toEqual([item]);
		expect(firstCall(fetchMock)[0]).toBe('/api/library/items');
	});

	it('getProgress returns null when the server has no saved position (404)', async () => {
		const fetchMock = vi
			.fn()
			.mockResolvedValue(json({ error: { code: 'not_found', message: 'no progress' } }, 404));

		expect(await getProgress({ media_type: 'movie', tmdb_id: 603 }, { fetch: fetchMock })).toBeNull();
	});

	it('getProgress still throws on other errors', async () => {
		const fetchMock = vi
			.fn()
			.mockResolvedValue(json({ error: { code: 'internal', message: 'boom' } }, 500));

		await expect(getProgress({ media_type: 'movie', tmdb_id: 603 }, { fetch: fetchMock })).rejects.toMatchObject({
			status: 500,
			code: 'internal'
		});
	});

	it('saveProgress PUTs the position as JSON, with keepalive when leaving', async () => {
		const fetchMock = vi.fn().mockResolvedValue(new Response(null, { status: 204 }));

		await saveProgress(
			{ media_type: 'tv', tmdb_id: 1396, season: 2, episode: 5 },
			{ position: 12.5, duration: 5400 },
			{ fetch: fetchMock, keepalive: true }
		);

		const [url, init] = firstCall(fetchMock);
		expect(url).toBe('/api/progress/tv/1396?season=2&episode=5');
		expect(init.method).toBe('PUT');
		expect(init.keepalive).toBe(true);
		expect((init.headers as Record<string, string>)['Content-Type']).toBe('application/json');
		expect(JSON.parse(init.body as string)).toEqual({ position: 12.5, duration: 5400 });
	});

	it('saveProgress rejects with the server error', async () => {
		const fetchMock = vi
			.fn()
			.mockResolvedValue(json({ error: { code: 'unauthorized', message: 'token required' } }, 401));

		await expect(
			saveProgress({ media_type: 'movie', tmdb_id: 603 }, { position: 1, duration: 2 }, { fetch: fetchMock })
		).rejects.toMatchObject({ status: 401, code: 'unauthorized' });
	});
});

describe('getMetadata', () => {
	it('returns TMDB metadata for a title', async () => {
		const meta = { media_type: 'movie', tmdb_id: 603, title: 'The Matrix', overview: 'Wake up.' };
		const fetchMock = vi.fn().mockResolvedValue(json(meta));

		const got = await getMetadata('movie', 603, { fetch: fetchMock });

		expect(fetchMock.mock.calls[0][0]).toBe('/api/metadata/movie/603');
		expect(got?.overview).toBe('Wake up.');
	});

	it('asks in the interface’s language when given one, for titles, seasons and search', async () => {
		const fetchMock = vi.fn().mockImplementation(() => Promise.resolve(json({ library: [], tmdb: [], episodes: [] })));
		await getMetadata('movie', 603, { fetch: fetchMock, language: 'fr' });
		await getSeasonMetadata(1396, 2, { fetch: fetchMock, language: 'en' });
		await search('amélie poulain', { fetch: fetchMock, language: 'fr' });
		expect(fetchMock.mock.calls.map((c) => c[0])).toEqual([
			'/api/metadata/movie/603?language=fr',
			'/api/metadata/tv/1396/season/2?language=en',
			'/api/search?q=am%C3%A9lie%20poulain&language=fr'
		]);
	});

	it('is null when the server has no TMDB key', async () => {
		const fetchMock = vi
			.fn()
			.mockResolvedValue(json({ error: { code: 'metadata_unavailable', message: 'no key' } }, 404));

		expect(await getMetadata('tv', 1396, { fetch: fetchMock })).toBeNull();
	});

	it('still reports other failures', async () => {
		const fetchMock = vi.fn().mockResolvedValue(json({ error: { code: 'tmdb_unauthorized', message: 'bad key' } }, 502));

		await expect(getMetadata('movie', 603, { fetch: fetchMock })).rejects.toMatchObject({ status: 502 });
	});
});

describe('a server that wants a session (401)', () => {
	const unauthorized = () => json({ error: { code: 'unauthorized', message: 'log in' } }, 401);

	it('tells the listeners, also one subscribing after the fact, until a login succeeds', async () => {
		const early = vi.fn();
		const stop = onUnauthorized(early);
		early.mockClear(); // earlier tests' 401s

		await expect(getLibraryItems({ fetch: vi.fn().mockResolvedValue(unauthorized()) })).rejects.toMatchObject({
			status: 401,
			code: 'unauthorized'
		});
		expect(early).toHaveBeenCalledTimes(1);
		// The page's load got the 401 before the layout subscribed: it still hears of it.
		const late = vi.fn();
		const stopLate = onUnauthorized(late);
		expect(late).toHaveBeenCalledTimes(1);

		stop();
		stopLate();
		await login('alice', 'correct horse', {
			fetch: vi.fn().mockResolvedValue(json({ username: 'alice', role: 'member' }))
		});
		const after = vi.fn();
		const stopAfter = onUnauthorized(after);
		expect(after).not.toHaveBeenCalled();
		stopAfter();
	});
});
