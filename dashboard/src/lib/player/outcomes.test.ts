import { describe, expect, it } from 'vitest';
import { describeOutcomes } from './outcomes';
import type { SourceFailure } from './fallback';

describe('describeOutcomes', () => {
	it('gives one line per provider, with the sources that failed to play', () => {
		const failures: SourceFailure[] = [
			{ index: 0, provider: 'consumet', quality: '1080p', reason: 'forbidden', status: 403, details: 'manifestLoadError' },
			{ index: 1, provider: 'consumet', quality: '720p', reason: 'network', details: 'fragLoadError' }
		];

		const rows = describeOutcomes(
			[
				{ provider: 'consumet', status: 'ok', sources: 2, elapsed_ms: 412 },
				{ provider: 'jellyfin', status: 'error', elapsed_ms: 0, sources: 0, code: 'upstream_unreachable', message: 'connection refused' },
				{ provider: 'stremio', status: 'empty', elapsed_ms: 0, sources: 0 },
				{ provider: 'library', status: 'timeout', elapsed_ms: 0, sources: 0 },
				{ provider: 'other', status: 'ok', elapsed_ms: 0, sources: 1 }
			],
			failures
		);

		expect(rows).toEqual([
			{
				provider: 'consumet',
				status: 'ok',
				summary: '2 sources trouvées',
				failures: ['1080p : accès refusé (HTTP 403)', '720p : erreur réseau']
			},
			{ provider: 'jellyfin', status: 'error', summary: 'erreur : connection refused', failures: [] },
			{ provider: 'stremio', status: 'empty', summary: 'aucune source', failures: [] },
			{ provider: 'library', status: 'timeout', summary: 'pas de réponse à temps', failures: [] },
			{ provider: 'other', status: 'ok', summary: '1 source trouvée', failures: [] }
		]);
	});

	it('gives the reason a provider found nothing, when the server says it', () => {
		const [row] = describeOutcomes(
			[
				{
					provider: 'library',
					status: 'empty',
					elapsed_ms: 2,
					sources: 0,
					code: 'not_in_library',
					message: 'movie 404 is not in the library'
				}
			],
			[]
		);
		expect(row.summary).toBe('aucune source : movie 404 is not in the library');
	});

	it('mentions items a browser cannot play (torrents, external links)', () => {
		const [row] = describeOutcomes([{ provider: 'stremio', status: 'empty', elapsed_ms: 0, sources: 0, skipped: 3 }], []);
		expect(row.summary).toBe('aucune source ; 3 ignorées (illisibles dans un navigateur)');
	});

	it('falls back to the error code and lists providers missing from outcomes', () => {
		const rows = describeOutcomes(
			[{ provider: 'jellyfin', status: 'error', elapsed_ms: 0, sources: 0, code: 'unauthorized' }],
			[{ index: 0, provider: 'library', quality: 'auto', reason: 'codec', details: 'bufferAddCodecError' }]
		);
		expect(rows.map((r) => [r.provider, r.summary, r.failures])).toEqual([
			['jellyfin', 'erreur : unauthorized', []],
			['library', 'lecture impossible', ['auto : codecs non pris en charge par ce navigateur']]
		]);
	});
});
