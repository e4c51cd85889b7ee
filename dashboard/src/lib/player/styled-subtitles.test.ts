import { describe, expect, it } from 'vitest';
import type { SubtitleTrack } from '$lib/api/types';
import { canRenderStyled, styledUrl } from './styled-subtitles';

const ass: SubtitleTrack = {
	url: '/api/media/1/subtitles/s0.vtt',
	lang: 'en',
	label: 'English',
	provider: 'library',
	format: 'ass',
	ass_url: '/api/media/1/subtitles/s0.ass'
};
const vtt: SubtitleTrack = { url: '/api/media/1/subtitles/x0.vtt', lang: 'en', label: 'English', provider: 'library', format: 'vtt' };

describe('styledUrl', () => {
	it('renders an ASS track with libass', () => {
		expect(styledUrl(ass, new Set(), true)).toBe('/api/media/1/subtitles/s0.ass');
	});

	it('shows the WebVTT of other tracks, of answers without a format, and when nothing is chosen', () => {
		expect(styledUrl(vtt, new Set(), true)).toBeNull();
		expect(styledUrl({ ...ass, format: undefined }, new Set(), true)).toBeNull();
		expect(styledUrl({ ...ass, ass_url: undefined }, new Set(), true)).toBeNull();
		expect(styledUrl(undefined, new Set(), true)).toBeNull();
	});

	it('falls back to the WebVTT when the browser cannot run the renderer or it failed on the track', () => {
		expect(styledUrl(ass, new Set(), false)).toBeNull();
		expect(styledUrl(ass, new Set([ass.ass_url!]), true)).toBeNull();
	});
});

describe('canRenderStyled', () => {
	it('needs WebAssembly, workers and OffscreenCanvas', () => {
		const full = { WebAssembly: {}, Worker: class {}, OffscreenCanvas: class {} } as unknown as typeof globalThis;
		expect(canRenderStyled(full)).toBe(true);
		expect(canRenderStyled({ ...full, OffscreenCanvas: undefined } as unknown as typeof globalThis)).toBe(false);
	});
});
