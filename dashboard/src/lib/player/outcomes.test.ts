import { afterEach, describe, expect, it } from 'vitest';
import { setMessages } from '$lib/i18n';
import { describeOutcomes } from './outcomes';
import type { SourceFailure } from './fallback';

afterEach(() => setMessages(null, 'fr'));

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
				failures: ['1080p : accès refusé (HTTP 403)', '720p : erreur réseau'],
				details: null
			},
			{
				provider: 'jellyfin',
				status: 'error',
				summary: 'Impossible de joindre la source.',
				failures: [],
				details: 'upstream_unreachable: connection refused'
			},
			{ provider: 'stremio', status: 'empty', summary: 'aucune source', failures: [], details: null },
			{ provider: 'library', status: 'timeout', summary: 'pas de réponse à temps', failures: [], details: null },
			{ provider: 'other', status: 'ok', summary: '1 source trouvée', failures: [], details: null }
		]);
	});

	it('gives the reason a provider found nothing, in the interface language', () => {
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
		expect(row.summary).toBe('aucune source : pas dans la bibliothèque');
		expect(row.details).toBe('not_in_library: movie 404 is not in the library');
		setMessages(null, 'en');
		expect(describeOutcomes([{ provider: 'library', status: 'empty', elapsed_ms: 2, sources: 0, code: 'not_in_library', message: 'x' }], [])[0].summary).toBe(
			'no source: not in the library'
		);
	});

	it('mentions items a browser cannot play (torrents, external links)', () => {
		const [row] = describeOutcomes([{ provider: 'stremio', status: 'empty', elapsed_ms: 0, sources: 0, skipped: 3 }], []);
		expect(row.summary).toBe('aucune source ; 3 ignorées (illisibles dans un navigateur)');
	});

	it('shows the server’s words for a code it does not know, and lists providers missing from outcomes', () => {
		const rows = describeOutcomes(
			[{ provider: 'jellyfin', status: 'error', elapsed_ms: 0, sources: 0, code: 'brand_new', message: 'it broke' }],
			[{ index: 0, provider: 'library', quality: 'auto', reason: 'codec', details: 'bufferAddCodecError' }]
		);
		expect(rows.map((r) => [r.provider, r.summary, r.failures])).toEqual([
			['jellyfin', 'erreur : it broke', []],
			['library', 'lecture impossible', ['auto : codecs non pris en charge par ce navigateur']]
		]);
	});
});
