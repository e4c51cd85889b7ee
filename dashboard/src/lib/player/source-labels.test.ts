import { describe, expect, it } from 'vitest';
import { sourceRowLabels } from './source-labels';

describe('sourceRowLabels', () => {
	it('tells a direct file from its HLS stream when provider and quality are the same', () => {
		expect(
			sourceRowLabels([
				{ provider: 'library', quality: '360p', type: 'mp4' },
				{ provider: 'library', quality: '360p', type: 'hls' },
				{ provider: 'consumet', quality: '1080p', type: 'hls' }
			])
		).toEqual(['library · 360p · lecture directe', 'library · 360p · HLS', 'consumet · 1080p']);
	});

	it('numbers rows that are still alike', () => {
		expect(
			sourceRowLabels([
				{ provider: 'stremio', quality: '720p', type: 'hls' },
				{ provider: 'stremio', quality: '720p', type: 'hls' }
			])
		).toEqual(['stremio · 720p · HLS (1)', 'stremio · 720p · HLS (2)']);
	});
});
