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

	it('resumes the next source where the failed one stopped, or at the resume point if it never played', () => {
		const player = new HlsPlayer();
		const video = document.createElement('video');
		const detach = player.attach(video);
		const sources = [streamSource({ quality: 'a' }), streamSource({ quality: 'b' }), streamSource({ quality: 'c' })];
		player.load({ sources, subtitles: [], startAt: 120 });

		// Never played: the second source starts from the saved position.
		fail(video, 4);
		expect(player.sourceIndex).toBe(1);
		expect(player.currentTime).toBe(120);

		// Played up to 300 s, then failed: the third source starts there.
		video.dispatchEvent(new Event('playing'));
		Object.defineProperty(video, 'currentTime', { value: 300, writable: true, configurable: true });
		fail(video, 2);
		expect(player.sourceIndex).toBe(2);
		expect(player.currentTime).toBe(300);
		expect(player.failures.map((f) => [f.quality, f.reason])).toEqual([
			['a', 'codec'],
			['b', 'network']
		]);
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
});
