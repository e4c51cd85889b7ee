import { describe, expect, it } from 'vitest';
import { parseTitleParams, parseWatchParams } from './route-params';

const q = (s: string) => new URLSearchParams(s);

describe('parseWatchParams', () => {
	it('accepts a film and drops any season/episode', () => {
		expect(parseWatchParams({ media_type: 'movie', tmdb_id: '603' }, q('season=1&episode=1'))).toEqual({
			ok: true,
			value: { media_type: 'movie', tmdb_id: 603 }
		});
	});

	it('requires season ≥ 0 and episode ≥ 1 for a series', () => {
		expect(parseWatchParams({ media_type: 'tv', tmdb_id: '1396' }, q('season=0&episode=2'))).toEqual({
			ok: true,
			value: { media_type: 'tv', tmdb_id: 1396, season: 0, episode: 2 }
		});
		expect(parseWatchParams({ media_type: 'tv', tmdb_id: '1396' }, q('season=1'))).toMatchObject({
			ok: false,
			status: 400
		});
		expect(parseWatchParams({ media_type: 'tv', tmdb_id: '1396' }, q('season=1&episode=0'))).toMatchObject({
			ok: false
		});
		expect(parseWatchParams({ media_type: 'tv', tmdb_id: '1396' }, q('season=-1&episode=1'))).toMatchObject({
			ok: false
		});
	});

	it('rejects an unknown media type or a bad id with a French message', () => {
		expect(parseTitleParams({ media_type: 'anime', tmdb_id: '1' })).toEqual({
			ok: false,
			status: 404,
			message: 'Type de média inconnu : « anime ».'
		});
		expect(parseTitleParams({ media_type: 'movie', tmdb_id: '12abc' })).toMatchObject({ ok: false, status: 404 });
		expect(parseTitleParams({ media_type: 'movie', tmdb_id: '0' })).toMatchObject({ ok: false });
	});
});
