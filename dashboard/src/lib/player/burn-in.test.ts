import { describe, expect, it } from 'vitest';
import type { StreamSource, SubtitleTrack } from '$lib/api/types';
import { burnChanged, burnedUrl, burnTarget, withBurn } from './burn-in';

function source(url: string, type: StreamSource['type']): StreamSource {
	return { url, type, quality: '480p', provider: 'library', headers: {} } as StreamSource;
}

const sources = [
	source('/api/media/7/file?st=9.abc', 'mp4'),
	source('/api/media/7/hls/master.m3u8?st=9.abc', 'hls'),
	source('https://cdn.example/other/master.m3u8', 'hls')
];
const image: SubtitleTrack = {
	url: '/api/media/7/hls/master.m3u8?burn=i0&st=9.abc',
	lang: 'fr',
	label: 'Français',
	provider: 'library',
	burn_in: 'i0'
};
const text: SubtitleTrack = { url: '/api/media/7/subtitles/s0.vtt?st=9.abc', lang: 'en', label: 'English', provider: 'library' };

describe('withBurn', () => {
	it('sets the burn beside the token and the profile, and takes it off again', () => {
		const profiled = '/api/media/7/hls/master.m3u8?st=9.abc&profile=1%3Aavc%2Caac';
		const burned = withBurn(profiled, 'i0');
		expect(burned).toBe('/api/media/7/hls/master.m3u8?st=9.abc&profile=1%3Aavc%2Caac&burn=i0');
		expect(withBurn(burned, 'i1')).toContain('burn=i1');
		expect(withBurn(burned, 'i1')).not.toContain('burn=i0');
		expect(withBurn(burned, null)).toBe(profiled);
	});

	it('keeps an absolute URL absolute', () => {
		expect(withBurn('https://sokoul.example/api/media/7/hls/master.m3u8', 'i0')).toBe(
			'https://sokoul.example/api/media/7/hls/master.m3u8?burn=i0'
		);
	});
});

describe('burnTarget', () => {
	it("is the HLS stream of the subtitle's file, even when its direct-play MP4 is playing", () => {
		expect(burnTarget(sources, image)).toEqual({ track: 'i0', sourceIndex: 1 });
	});

	it("is a remote file's engine source, which plays its proxy_url", () => {
		const remote = { ...source('https://debrid.example/film.mkv', 'hls'), proxy_url: '/api/playback/r/c.u.s/master.m3u8' };
		const pgs = { ...image, url: '/api/playback/r/c.u.s/master.m3u8?burn=i0', provider: 'stremio' };
		expect(burnTarget([sources[2], remote], pgs)).toEqual({ track: 'i0', sourceIndex: 1 });
	});

	it('is nothing for a text subtitle, or when no source is that stream', () => {
		expect(burnTarget(sources, text)).toBeNull();
		expect(burnTarget([sources[0], sources[2]], image)).toBeNull();
		expect(burnTarget(sources, { ...image, url: '/api/media/8/hls/master.m3u8?burn=i0' })).toBeNull();
	});
});

describe('burnedUrl and burnChanged', () => {
	const burn = { track: 'i0', sourceIndex: 1 };

	it('burns on the chosen source only', () => {
		expect(burnedUrl('/api/media/7/hls/master.m3u8', 1, burn)).toBe('/api/media/7/hls/master.m3u8?burn=i0');
		expect(burnedUrl('https://cdn.example/other/master.m3u8', 2, burn)).toBe('https://cdn.example/other/master.m3u8');
		expect(burnedUrl('/api/media/7/hls/master.m3u8', 1, null)).toBe('/api/media/7/hls/master.m3u8');
	});

	it('asks for a reload only when the picture changes', () => {
		expect(burnChanged(null, null)).toBe(false);
		expect(burnChanged(burn, { ...burn })).toBe(false);
		expect(burnChanged(null, burn)).toBe(true);
		expect(burnChanged(burn, null)).toBe(true);
		expect(burnChanged(burn, { ...burn, track: 'i1' })).toBe(true);
	});
});
