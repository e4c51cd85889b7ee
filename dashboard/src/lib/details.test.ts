import { afterEach, describe, expect, it } from 'vitest';
import type { LibraryEpisode, TmdbSeason } from '$lib/api/types';
import { setMessages } from '$lib/i18n';
import { episodeRows, formatAirDate, formatRating, genreName, seasonNumbers } from './details';

afterEach(() => setMessages(null, 'fr'));

const library: LibraryEpisode[] = [
	{ episode: 2, title: null, duration: 90, still_url: '/api/library/still/tv/1396/1/2?st=x' },
	{ episode: 1, title: 'Pilot', duration: 90, still_url: '/api/library/still/tv/1396/1/1?st=x' }
];
const season: TmdbSeason = {
	tmdb_id: 1396,
	season: 1,
	name: 'Season 1',
	episodes: [
		{ season: 1, episode: 1, name: 'Pilote', overview: 'Walter apprend…', air_date: '2008-01-20', still_url: 'https://image.tmdb.org/t/p/w300/a.jpg', runtime: 58 },
		{ season: 1, episode: 2, name: 'Cat’s in the Bag...', runtime: 48 },
		{ season: 1, episode: 3, name: '...And the Bag’s in the River', air_date: '2008-02-10', runtime: 48 }
	]
};

describe('episodeRows', () => {
	it('gives library episodes TMDB’s synopsis and date, and tries the file’s frame before TMDB’s still', () => {
		const rows = episodeRows(library, season);
		expect(rows.map((r) => r.episode)).toEqual([1, 2, 3]);
		expect(rows[0]).toEqual({
			episode: 1,
			title: 'Pilot',
			duration: 90,
			overview: 'Walter apprend…',
			airDate: '2008-01-20',
			stills: ['/api/library/still/tv/1396/1/1?st=x', 'https://image.tmdb.org/t/p/w300/a.jpg'],
			inLibrary: true
		});
		expect(rows[1].title, 'the file has no title: TMDB’s').toBe('Cat’s in the Bag...');
		expect(rows[1].stills).toEqual(['/api/library/still/tv/1396/1/2?st=x']);
	});

	it('lists TMDB’s episodes the library lacks, with TMDB’s runtime in seconds', () => {
		const missing = episodeRows(library, season)[2];
		expect(missing).toMatchObject({ episode: 3, inLibrary: false, duration: 48 * 60, airDate: '2008-02-10', stills: [] });
	});

	it('is the library’s episodes alone without TMDB', () => {
		const rows = episodeRows(library, null);
		expect(rows.map((r) => [r.episode, r.overview, r.stills.length])).toEqual([
			[1, null, 1],
			[2, null, 1]
		]);
	});
});

describe('seasonNumbers', () => {
	it('merges the library’s and TMDB’s seasons, specials last', () => {
		expect(seasonNumbers([{ season: 2, episodes: [] }], [{ season: 0 }, { season: 1 }, { season: 2 }])).toEqual([1, 2, 0]);
		expect(seasonNumbers([{ season: 1, episodes: [] }], null)).toEqual([1]);
	});
});

describe('in the interface’s language', () => {
	it('writes ratings with one decimal: "7,8" in French, "7.8" in English', () => {
		expect(formatRating(7.8)).toBe('7,8');
		expect(formatRating(8)).toBe('8,0');
		setMessages(null, 'en');
		expect(formatRating(7.83)).toBe('7.8');
	});

	it('writes air dates as a day, whatever the time zone', () => {
		expect(formatAirDate('2008-01-20')).toBe('20 janvier 2008');
		setMessages(null, 'en');
		expect(formatAirDate('2008-01-20')).toBe('January 20, 2008');
		for (const bad of ['', null, undefined, '2008', '2008-02-30', 'soon']) expect(formatAirDate(bad)).toBeNull();
	});

	it('names TMDB’s genres from the catalogue, and keeps TMDB’s name for an unknown id', () => {
		expect(genreName({ id: 878, name: 'Science Fiction' })).toBe('Science-fiction');
		expect(genreName({ id: 10765, name: 'Sci-Fi & Fantasy' })).toBe('Science-fiction et fantastique');
		setMessages(null, 'en');
		expect(genreName({ id: 878, name: 'Sciencefiction' })).toBe('Science Fiction');
		expect(genreName({ id: 99999, name: 'Mumblecore' })).toBe('Mumblecore');
	});
});
