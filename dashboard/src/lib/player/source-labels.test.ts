import { afterEach, describe, expect, it } from 'vitest';
import { setMessages } from '$lib/i18n';
import { sourceRowLabels } from './source-labels';

afterEach(() => setMessages(null, 'fr'));

describe('sourceRowLabels', () => {
	it('names the providers in the interface language', () => {
		const sources = [{ provider: 'library', quality: '360p', type: 'mp4' as const }];
		expect(sourceRowLabels(sources)).toEqual(['Bibliothèque · 360p']);
		setMessages(null, 'en');
		expect(sourceRowLabels(sources)).toEqual(['Library · 360p']);
	});

	it('tells a direct file from its HLS stream when provider and quality are the same', () => {
		expect(
			sourceRowLabels([
				{ provider: 'library', quality: '360p', type: 'mp4' },
				{ provider: 'library', quality: '360p', type: 'hls' },
				{ provider: 'consumet', quality: '1080p', type: 'hls' }
			])
		).toEqual(['Bibliothèque · 360p · lecture directe', 'Bibliothèque · 360p · HLS', 'Consumet · 1080p']);
	});

	it('numbers rows that are still alike', () => {
		expect(
			sourceRowLabels([
				{ provider: 'stremio', quality: '720p', type: 'hls' },
				{ provider: 'stremio', quality: '720p', type: 'hls' }
			])
		).toEqual(['Stremio · 720p · HLS (1)', 'Stremio · 720p · HLS (2)']);
	});
});
