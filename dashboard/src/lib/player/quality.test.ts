import { describe, expect, it } from 'vitest';
import { ENGINE_QUALITIES, qualityMaxHeight, qualityMenu, sourceForQuality } from './quality';

describe('engine quality choices', () => {
	it('are Original and three heights, each a max= cap in the profile', () => {
		expect(ENGINE_QUALITIES).toEqual(['original', '1080', '720', '480']);
		expect(ENGINE_QUALITIES.map(qualityMaxHeight)).toEqual([undefined, 1080, 720, 480]);
	});

	it('leave a multi-variant source its own ladder and appear only where the engine packages', () => {
		expect(qualityMenu(4, false)).toBe('levels');
		expect(qualityMenu(4, true)).toBe('levels');
		expect(qualityMenu(1, true)).toBe('engine');
		expect(qualityMenu(0, true)).toBe('engine');
		expect(qualityMenu(1, false)).toBe('none');
	});

	it('move a library file played as it is to its own engine HLS, and nothing else', () => {
		const urls = [
			'/api/media/7/file?st=1.a',
			'/api/media/8/hls/master.m3u8?st=1.b',
			'/api/media/7/hls/master.m3u8?st=1.c',
			'https://cdn.example/master.m3u8',
			'/api/media/9/file?st=1.d'
		];
		expect(sourceForQuality(urls, 0, '720')).toBe(2);
		expect(sourceForQuality(urls, 0, 'original')).toBe(0);
		expect(sourceForQuality(urls, 1, '480')).toBe(1);
		expect(sourceForQuality(urls, 3, '480')).toBe(3);
		expect(sourceForQuality(urls, 4, '480')).toBe(4);
	});
});
