import { describe, expect, it } from 'vitest';
import type { StreamSource } from '$lib/api/types';
import { playableHere, playsHere } from './plays-here';

const source = (type: 'hls' | 'mp4', mime?: string): StreamSource => ({
	url: `/${type}`,
	type,
	quality: '720p',
	provider: 'library',
	headers: {},
	...(mime ? { mime } : {})
});

const AV1_MKV = 'video/x-matroska; codecs="av01.0.08M.08, opus"';
// What Chromium answers, and a browser that plays MP4 but neither Matroska nor AV1 (Safari).
const chromium = (mime: string) => (mime.startsWith('video/x-matroska') || mime.startsWith('video/mp4') ? 'probably' : '');
const safari = (mime: string) => (mime.startsWith('video/mp4') ? 'probably' : '');

describe('playsHere', () => {
	it('asks the browser about a file that names its type', () => {
		expect(playsHere(source('mp4', AV1_MKV), chromium)).toBe(true);
		expect(playsHere(source('mp4', AV1_MKV), safari)).toBe(false);
	});

	it('tries HLS and files without a type as before', () => {
		expect(playsHere(source('hls'), safari)).toBe(true);
		expect(playsHere(source('mp4'), () => '')).toBe(true);
	});

	it('keeps the order: the file first where it plays, its HLS packaging where it does not', () => {
		const sources = [source('mp4', AV1_MKV), source('hls')];
		expect(playableHere(sources, chromium).map((s) => s.type)).toEqual(['mp4', 'hls']);
		expect(playableHere(sources, safari).map((s) => s.type)).toEqual(['hls']);
	});
});
