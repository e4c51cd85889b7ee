import { describe, expect, it } from 'vitest';
import type { LibraryItem } from '$lib/api/types';
import { browse, DEFAULT_BROWSE, recentlyAdded } from './browse';

const item = (
	media_type: 'movie' | 'tv',
	tmdb_id: number,
	title: string,
	year: number | null,
	added_at: string,
	watched = false
): LibraryItem => ({
	media_type,
	tmdb_id,
	title,
	year,
	poster_url: null,
	overview: null,
	added_at,
	watched,
	...(media_type === 'tv' ? { unwatched_episodes: watched ? 0 : 3 } : {})
});
const items = [
	item('movie', 1, 'Élan', 2001, '2026-11-02T10:00:00Z', true),
	item('movie', 2, 'alpha 10', 2019, '2026-11-01T10:00:00Z'),
	item('tv', 3, 'Zèbre', 2019, '2026-12-01T08:00:00+01:00'),
	item('movie', 4, 'Alpha 9', null, '2026-11-02T10:00:00Z')
];

describe('browse', () => {
	it('sorts by title the way people read (accents, case, numbers)', () => {
		expect(browse(items, DEFAULT_BROWSE, 'fr').map((i) => i.title)).toEqual(['Alpha 9', 'alpha 10', 'Élan', 'Zèbre']);
	});

	it('sorts by year, newest first, titles without a year last', () => {
		const sorted = browse(items, { ...DEFAULT_BROWSE, sort: 'year' }, 'fr');
		expect(sorted.map((i) => i.tmdb_id)).toEqual([2, 3, 1, 4]);
	});

	it('sorts by date added, newest first, ties by title, whatever the offset written', () => {
		const sorted = browse(items, { ...DEFAULT_BROWSE, sort: 'added' }, 'fr');
		expect(sorted.map((i) => i.tmdb_id)).toEqual([3, 4, 1, 2]);
	});

	it('filters films or series, watched or not, from what the server says', () => {
		expect(browse(items, { ...DEFAULT_BROWSE, kind: 'tv' }, 'fr').map((i) => i.tmdb_id)).toEqual([3]);
		expect(browse(items, { ...DEFAULT_BROWSE, watched: 'watched' }, 'fr').map((i) => i.tmdb_id)).toEqual([1]);
		expect(browse(items, { sort: 'title', kind: 'movie', watched: 'unwatched' }, 'fr').map((i) => i.tmdb_id)).toEqual([
			4, 2
		]);
	});

	it('keeps the newest titles for the "recently added" row', () => {
		expect(recentlyAdded(items, 2).map((i) => i.tmdb_id)).toEqual([3, 1]);
	});
});
