import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { resolveResponse, streamSource } from '../../test-data/resolve';
import { HlsPlayer } from './hls-player.svelte';

// The class on its own, without the component: what the markup tests cannot see.
beforeEach(() => {
	localStorage.clear();
	vi.spyOn(HTMLMediaElement.prototype, 'play').mockResolvedValue(undefined);
	vi.spyOn(HTMLMediaElement.prototype, 'load').mockImplementation(() => {});
	vi.spyOn(console, 'warn').mockImplementation(() => {});
});
afterEach(() => vi.restoreAllMocks());

function fail(video: HTMLVideoElement, code: number) {
	Object.defineProperty(video, 'error', { value: { code }, configurable: true });
	video.dispatchEvent(new Event('error'));
}

describe('HlsPlayer', () => {
	it('starts a load requested before a <video> was attached once one is', () => {
		const player = new HlsPlayer();
		const { sources, subtitles } = resolveResponse();
		player.load({ sources, subtitles, startAt: 0 });
		expect(player.playerState).toBe('loading');

		const video = document.createElement('video');
		const detach = player.attach(video);

		expect(video.getAttribute('src')).toBe(sources[0].proxy_url);
		detach();
	});

	it('resumes the next source where the failed one stopped, or at the resume point if it never played', async () => {
		// The files answer: their failures are the browser's, not the server's.
		vi.stubGlobal('fetch', vi.fn(async () => new Response('x', { status: 206 })));
		const player = new HlsPlayer();
		const video = document.createElement('video');
		const detach = player.attach(video);
		const sources = [streamSource({ quality: 'a' }), streamSource({ quality: 'b' }), streamSource({ quality: 'c' })];
		player.load({ sources, subtitles: [], startAt: 120 });

		// Never played: the second source starts from the saved position.
		fail(video, 4);
		await vi.waitFor(() => expect(player.sourceIndex).toBe(1));
		expect(player.currentTime).toBe(120);

		// Played up to 300 s, then failed: the same source starts again there, once…
		video.dispatchEvent(new Event('playing'));
		Object.defineProperty(video, 'currentTime', { value: 300, writable: true, configurable: true });
		fail(video, 2);
		await vi.waitFor(() => expect(player.failures.length).toBe(1));
		await vi.waitFor(() => expect(player.playerState).toBe('loading'));
		expect(player.sourceIndex).toBe(1);
		expect(player.currentTime).toBe(300);
		// …and when that fails too, the third source starts there.
		fail(video, 2);
		await vi.waitFor(() => expect(player.sourceIndex).toBe(2));
		expect(player.currentTime).toBe(300);
		expect(player.failures.map((f) => [f.quality, f.reason])).toEqual([
			['a', 'codec'],
			['b', 'network']
		]);
		detach();
		vi.unstubAllGlobals();
	});

	it('reports a file the server refused as refused, not as a codec problem', async () => {
		vi.stubGlobal('fetch', vi.fn(async () => new Response(null, { status: 403 })));
		const player = new HlsPlayer();
		const video = document.createElement('video');
		const detach = player.attach(video);
		player.load({ sources: [streamSource({ quality: 'a' })], subtitles: [], startAt: 0 });
		fail(video, 4);
		await vi.waitFor(() => expect(player.playerState).toBe('error'));
		expect(player.failures).toMatchObject([{ reason: 'forbidden', status: 403 }]);
		detach();
		vi.unstubAllGlobals();
	});

	it('keeps the position the viewer had when every source failed, for "Réessayer"', async () => {
		vi.stubGlobal('fetch', vi.fn(async () => new Response('x', { status: 206 })));
		const player = new HlsPlayer();
		const video = document.createElement('video');
		const detach = player.attach(video);
		player.load({ sources: [streamSource({ quality: 'a' })], subtitles: [], startAt: 0 });
		video.dispatchEvent(new Event('playing'));
		Object.defineProperty(video, 'currentTime', { value: 362, writable: true, configurable: true });
		fail(video, 2);
		await vi.waitFor(() => expect(player.playerState).toBe('loading'));
		fail(video, 2);
		await vi.waitFor(() => expect(player.playerState).toBe('error'));
		expect(player.failedAt).toBe(362);
		detach();
		vi.unstubAllGlobals();
	});

	it('tells the server about a source that failed by itself, not one this browser cannot decode', async () => {
		// Source a answers (its failure is this browser's codecs); b is refused by the server.
		vi.stubGlobal(
			'fetch',
			vi.fn(async (url: string) => new Response('x', { status: String(url).endsWith('u=b') ? 403 : 206 }))
		);
		const report = vi.fn();
		const player = new HlsPlayer({ report });
		const video = document.createElement('video');
		const detach = player.attach(video);
		const sources = [
			streamSource({ quality: 'a', proxy_url: '/api/streaming/proxy?u=a' }),
			streamSource({ quality: 'b', proxy_url: '/api/streaming/proxy?u=b' }),
			streamSource({ quality: 'c', proxy_url: '/api/streaming/proxy?u=c' })
		];
		player.load({ sources, subtitles: [], startAt: 0 });

		fail(video, 4);
		await vi.waitFor(() => expect(player.sourceIndex).toBe(1));
		fail(video, 2);
		await vi.waitFor(() => expect(player.sourceIndex).toBe(2));
		expect(report.mock.calls.map((c) => [c[0], c[1]])).toEqual([['/api/streaming/proxy?u=b', 'manifest']]);
		detach();
	});

	it('skips an expired source from the start and fails when every one has expired', () => {
		const player = new HlsPlayer();
		const detach = player.attach(document.createElement('video'));
		player.load({
			sources: [streamSource({ expires_at: '2000-01-01T00:00:00Z' })],
			subtitles: [],
			startAt: 0
		});

		expect(player.playerState).toBe('error');
		expect(player.errorDetails).toBe('expired');
		expect(player.failures).toMatchObject([{ reason: 'expired' }]);
		detach();
	});

	it('remembers volume, mute and subtitle size for the next player', () => {
		const first = new HlsPlayer();
		const detach = first.attach(document.createElement('video'));
		first.setVolume(0.3);
		first.toggleMute();
		first.subtitles.setSize('xl');
		detach();

		const next = new HlsPlayer();
		expect([next.volume, next.muted, next.subtitles.size]).toEqual([0.3, true, 'xl']);
	});

	it('restarts at the current position with the chosen height in the profile, and remembers it', async () => {
		// Native HLS stands in for hls.js here: the URL the element gets is what the server sees.
		vi.spyOn(HTMLMediaElement.prototype, 'canPlayType').mockImplementation((t) => (t.includes('mpegurl') ? 'maybe' : ''));
		const loadHls = () => Promise.resolve({ Hls: { isSupported: () => false } } as never);
		const player = new HlsPlayer({ loadHls });
		const video = document.createElement('video');
		const detach = player.attach(video);
		const file = streamSource({ url: '/api/media/7/file?st=1.a', proxy_url: undefined });
		const hls = streamSource({ url: '/api/media/7/hls/master.m3u8?st=1.b', proxy_url: undefined, type: 'hls' });
		player.load({ sources: [file, hls], subtitles: [], startAt: 0 });
		expect(player.qualityMenu).toBe('engine');
		video.dispatchEvent(new Event('playing'));
		Object.defineProperty(video, 'currentTime', { value: 300, writable: true, configurable: true });

		player.setQuality('480');
		await vi.waitFor(() => expect(video.getAttribute('src')).toContain('/api/media/7/hls/master.m3u8'));
		expect(video.getAttribute('src')).toContain('max%3D480');
		expect(player.currentTime).toBe(300);
		expect(player.failures).toEqual([]);

		player.setQuality('720');
		await vi.waitFor(() => expect(video.getAttribute('src')).toContain('max%3D720'));
		expect(new HlsPlayer().quality).toBe('720');
		detach();
	});

	it('clamps the subtitle offset to tenths of a second', () => {
		const player = new HlsPlayer();
		player.subtitles.setOffset(0.1 + 0.2);
		expect(player.subtitles.offset).toBe(0.3);
	});

	it('reloads the stream with an image subtitle burned in at the same position, keeping the audio track, and without it when turned off', async () => {
		const instances: FakeHls[] = [];
		const player = new HlsPlayer({ loadHls: fakeHlsModule(instances) });
		const video = document.createElement('video');
		const detach = player.attach(video);
		const hls = streamSource({ type: 'hls', url: '/api/media/7/hls/master.m3u8?st=9.x', proxy_url: undefined });
		const image = { url: '/api/media/7/hls/master.m3u8?burn=i0&st=9.x', lang: 'fr', label: 'Signs', provider: 'library', burn_in: 'i0' };
		player.load({ sources: [hls], subtitles: [image], startAt: 0 });
		await vi.waitFor(() => expect(instances).toHaveLength(1));
		expect(new URL(instances[0].url, 'http://x').searchParams.get('burn')).toBeNull();
		instances[0].tracks('AUDIO_TRACKS_UPDATED', [{ id: 0, lang: 'fr', name: 'VF' }, { id: 1, lang: 'en', name: 'VO' }]);
		player.setAudioTrack(1);
		localStorage.clear(); // the stream's own choice is what carries over, not the stored one
		video.dispatchEvent(new Event('playing'));
		Object.defineProperty(video, 'currentTime', { value: 42, writable: true, configurable: true });

		player.subtitles.select('ext:0');
		await vi.waitFor(() => expect(instances).toHaveLength(2));
		expect(new URL(instances[1].url, 'http://x').searchParams.get('burn')).toBe('i0');
		expect(instances[1].startPosition).toBe(42);
		instances[1].tracks('AUDIO_TRACKS_UPDATED', [{ id: 0, lang: 'fr', name: 'VF' }, { id: 1, lang: 'en', name: 'VO' }]);
		expect([instances[1].audioTrack, player.audioTrack]).toEqual([1, 1]);

		player.subtitles.select(null);
		await vi.waitFor(() => expect(instances).toHaveLength(3));
		expect(new URL(instances[2].url, 'http://x').searchParams.get('burn')).toBeNull();
		detach();
	});

	it("lists a remote engine source's embedded subtitles once its master playlist is parsed, in the stored language", async () => {
		localStorage.setItem('sokoul.player', JSON.stringify({ subtitleLang: 'fr' }));
		const instances: FakeHls[] = [];
		const master = '/api/playback/r/c.u.s/master.m3u8';
		const embedded = [
			{ url: '/api/playback/r/c.u.s/subtitles/s0.vtt', lang: 'en', label: 'English', provider: 'stremio' },
			{ url: '/api/playback/r/c.u.s/subtitles/s1.vtt', lang: 'fr', label: 'Français', provider: 'stremio' }
		];
		const getEngineSubtitles = vi.fn().mockResolvedValue(embedded);
		const fetchText = vi.fn().mockResolvedValue('WEBVTT\n\n00:00:01.000 --> 00:00:02.000\nDéjà vu');
		const player = new HlsPlayer({ loadHls: fakeHlsModule(instances), getEngineSubtitles, subtitles: { fetchText } });
		const detach = player.attach(document.createElement('video'));
		const remote = streamSource({ type: 'hls', url: 'https://debrid.example/film.mkv', proxy_url: master });
		const addon = { url: 'https://subs.example/de.vtt', lang: 'de', label: 'Deutsch', provider: 'stremio' };
		player.load({ sources: [remote], subtitles: [addon], startAt: 0 });
		await vi.waitFor(() => expect(instances).toHaveLength(1));
		expect(getEngineSubtitles).not.toHaveBeenCalled();

		instances[0].tracks('MANIFEST_PARSED', []);

		await vi.waitFor(() => expect(player.subtitles.options.map((o) => o.lang)).toEqual(['de', 'en', 'fr']));
		expect(getEngineSubtitles).toHaveBeenCalledWith(master);
		expect(player.subtitles.selected).toBe('ext:2');
		await vi.waitFor(() => expect(player.subtitles.cues).toEqual([{ start: 1, end: 2, text: 'Déjà vu' }]));
		expect(fetchText).toHaveBeenCalledWith(embedded[1]);
		// A reload of the same source (quality, burn-in) asks no more.
		instances[0].tracks('MANIFEST_PARSED', []);
		expect(getEngineSubtitles).toHaveBeenCalledTimes(1);
		detach();
	});
});

/** Just enough of hls.js for the player: the URL and start it was given, audio tracks, events. */
class FakeHls {
	static isSupported = () => true;
	static Events = new Proxy({}, { get: (_target, name) => name });
	url = '';
	audioTracks: Array<{ id: number; lang: string; name: string }> = [];
	audioTrack = 0;
	subtitleTracks = [];
	subtitleTrack = -1;
	levels = [];
	#listeners = new Map<string, Array<(...args: unknown[]) => void>>();
	constructor(public startPosition: number) {}
	on(event: string, listener: (...args: unknown[]) => void) {
		this.#listeners.set(event, [...(this.#listeners.get(event) ?? []), listener]);
	}
	off() {}
	attachMedia() {}
	loadSource(url: string) {
		this.url = url;
	}
	destroy() {}
	tracks(event: string, audioTracks: FakeHls['audioTracks']) {
		this.audioTracks = audioTracks;
		for (const listener of this.#listeners.get(event) ?? []) listener(event, {});
	}
}

function fakeHlsModule(instances: FakeHls[]) {
	const module = {
		Hls: FakeHls,
		createHls: ({ startPosition }: { startPosition: number }) => {
			const hls = new FakeHls(startPosition);
			instances.push(hls);
			return hls;
		}
	};
	return () => Promise.resolve(module as unknown as typeof import('./create-hls'));
}
