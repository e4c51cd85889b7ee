import { describe, expect, it } from 'vitest';
import type { LibraryItem, ProgressEntry } from '$lib/api/types';
import { browse, DEFAULT_BROWSE, watchedFilms } from './browse';

const item = (media_type: 'movie' | 'tv', tmdb_id: number, title: string, year: number | null): LibraryItem => ({
	media_type,
	tmdb_id,
	title,
	year,
	poster_url: null,
	overview: null
});
const items = [
	item('movie', 1, 'Élan', 2001),
	item('movie', 2, 'alpha 10', 2019),
	item('tv', 3, 'Zèbre', 2019),
	item('movie', 4, 'Alpha 9', null)
];
const progress = (tmdb_id: number, position: number): ProgressEntry => ({
	media_type: 'movie',
	tmdb_id,
	season: null,
	episode: null,
	position,
	duration: 100,
	updated_at: '2026-12-01T00:00:00Z',
	title: null
});

describe('browse', () => {
	it('sorts by title the way people read (accents, case, numbers)', () => {
		expect(browse(items, new Set(), DEFAULT_BROWSE, 'fr').map((i) => i.title)).toEqual(['Alpha 9', 'alpha 10', 'Élan', 'Zèbre']);
	});

	it('sorts by year, newest first, titles without a year last', () => {
		const sorted = browse(items, new Set(), { ...DEFAULT_BROWSE, sort: 'year' }, 'fr');
		expect(sorted.map((i) => i.tmdb_id)).toEqual([2, 3, 1, 4]);
	});

	it('filters films or series, watched or not', () => {
		const watched = watchedFilms([progress(1, 99), progress(2, 50)]);
		expect([...watched]).toEqual(['movie:1']);
		expect(browse(items, watched, { ...DEFAULT_BROWSE, kind: 'tv' }, 'fr').map((i) => i.tmdb_id)).toEqual([3]);
		expect(browse(items, watched, { ...DEFAULT_BROWSE, watched: 'watched' }, 'fr').map((i) => i.tmdb_id)).toEqual([1]);
		expect(
			browse(items, watched, { sort: 'title', kind: 'movie', watched: 'unwatched' }, 'fr').map((i) => i.tmdb_id)
		).toEqual([4, 2]);
	});
});
