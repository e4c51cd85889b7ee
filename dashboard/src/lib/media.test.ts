import { describe, expect, it } from 'vitest';
import type { LibrarySeason, ProgressEntry } from '$lib/api/types';
import {
	continueWatching,
	entriesToForget,
	formatDuration,
	formatTime,
	isFinished,
	nextEpisode,
	resumePosition,
	seriesTitle,
	upNextEpisode,
	watchFromStartHref,
	watchHref
} from './media';

const seasons: LibrarySeason[] = [
	{ season: 2, episodes: [{ episode: 1, title: 'S2E1', duration: 1300, still_url: '/api/library/still/tv/1/2/1' }] },
	{
		season: 1,
		episodes: [
			{ episode: 2, title: 'S1E2', duration: 1300, still_url: '/api/library/still/tv/1/1/2' },
			{ episode: 1, title: 'S1E1', duration: 1300, still_url: '/api/library/still/tv/1/1/1' }
		]
	}
];

function entry(extra: Partial<ProgressEntry>): ProgressEntry {
	return {
		media_type: 'movie',
		tmdb_id: 1,
		season: null,
		episode: null,
		position: 600,
		duration: 5400,
		updated_at: '2026-11-20T10:00:00Z',
		title: null,
		...extra
	};
}

describe('formatTime', () => {
	it('formats minutes and hours', () => {
		expect(formatTime(0)).toBe('0:00');
		expect(formatTime(65.9)).toBe('1:05');
		expect(formatTime(3723)).toBe('1:02:03');
		expect(formatTime(NaN)).toBe('0:00');
	});
});

describe('watchHref', () => {
	it('adds season and episode for a series only', () => {
		expect(watchHref({ media_type: 'movie', tmdb_id: 603 })).toBe('/watch/movie/603');
		expect(watchHref({ media_type: 'tv', tmdb_id: 1396, season: 1, episode: 2 })).toBe(
			'/watch/tv/1396?season=1&episode=2'
		);
	});

	it('says "from the start" after whatever query the title has', () => {
		expect(watchFromStartHref({ media_type: 'movie', tmdb_id: 603 })).toBe('/watch/movie/603?start=0');
		expect(watchFromStartHref({ media_type: 'tv', tmdb_id: 1396, season: 1, episode: 2 })).toBe(
			'/watch/tv/1396?season=1&episode=2&start=0'
		);
	});
});

describe('nextEpisode', () => {
	it('goes to the next episode, then to the next season', () => {
		expect(nextEpisode(seasons, 1, 1)).toEqual({ season: 1, episode: 2, title: 'S1E2' });
		expect(nextEpisode(seasons, 1, 2)).toEqual({ season: 2, episode: 1, title: 'S2E1' });
		expect(nextEpisode(seasons, 2, 1)).toBeNull();
	});

	it('copes with an episode missing from the listing', () => {
		expect(nextEpisode(seasons, 1, 1.5)).toMatchObject({ season: 1, episode: 2 });
	});
});

describe('resumePosition', () => {
	it('resumes a started title, not one barely started or finished', () => {
		expect(resumePosition({ position: 754.2, duration: 5400 })).toBe(754.2);
		expect(resumePosition({ position: 4, duration: 5400 })).toBe(0);
		expect(resumePosition({ position: 5370, duration: 5400 })).toBe(0);
		expect(resumePosition(null)).toBe(0);
	});
});

describe('continueWatching', () => {
	it('keeps the latest unfinished entry per title, most recent first', () => {
		const row = continueWatching([
			entry({ tmdb_id: 1, updated_at: '2026-11-20T10:00:00Z' }),
			entry({ media_type: 'tv', tmdb_id: 2, season: 1, episode: 3, updated_at: '2026-11-22T10:00:00Z' }),
			entry({ media_type: 'tv', tmdb_id: 2, season: 1, episode: 2, updated_at: '2026-11-21T10:00:00Z' }),
			entry({ tmdb_id: 3, position: 5399, updated_at: '2026-11-23T10:00:00Z' }),
			entry({ tmdb_id: 4, position: 2 })
		]);
		expect(row.map((e) => [e.tmdb_id, e.episode])).toEqual([
			[2, 3],
			[1, null]
		]);
	});
});

describe('upNextEpisode', () => {
	it('starts with S1E1 when nothing was watched', () => {
		expect(upNextEpisode(seasons, [])).toMatchObject({ season: 1, episode: 1 });
	});

	it('resumes the last unfinished episode, or moves past a finished one', () => {
		const tv = { media_type: 'tv' as const, tmdb_id: 9 };
		expect(upNextEpisode(seasons, [entry({ ...tv, season: 1, episode: 2, position: 300, duration: 1300 })])).toMatchObject({
			season: 1,
			episode: 2
		});
		expect(upNextEpisode(seasons, [entry({ ...tv, season: 1, episode: 2, position: 1290, duration: 1300 })])).toMatchObject({
			season: 2,
			episode: 1
		});
	});
});

describe('isFinished', () => {
	it('judges by a share of the duration, so a short clip is not finished once opened', () => {
		expect(isFinished(2, 12)).toBe(false);
		expect(isFinished(30, 50)).toBe(false);
		expect(isFinished(11.5, 12)).toBe(true);
		expect(isFinished(5300, 5400)).toBe(true);
		expect(isFinished(5000, 5400)).toBe(false);
		expect(isFinished(10, 0)).toBe(false);
	});
});

describe('formatDuration', () => {
	it('never says "0 min"', () => {
		expect(formatDuration(12).replace(/[\u00a0\u202f]/g, ' ')).toBe('12 s');
		expect(formatDuration(90.02).replace(/[\u00a0\u202f]/g, ' ')).toBe('2 min');
		expect(formatDuration(42 * 60).replace(/[\u00a0\u202f]/g, ' ')).toBe('42 min');
		expect(formatDuration(118 * 60).replace(/[\u00a0\u202f]/g, ' ')).toBe('1 h 58 min');
		expect(formatDuration(120 * 60).replace(/[\u00a0\u202f]/g, ' ')).toBe('2 h');
		expect(formatDuration(0).replace(/[\u00a0\u202f]/g, ' ')).toBe('');
	});
});

describe('seriesTitle', () => {
	it('drops the episode title a resolve title carries', () => {
		expect(seriesTitle('Sokoul Demo Series – Pilot', 'Pilot')).toBe('Sokoul Demo Series');
		expect(seriesTitle('Show - A (Part 1)', 'A (Part 1)')).toBe('Show');
		expect(seriesTitle('Breaking Bad', 'Pilot')).toBe('Breaking Bad');
		expect(seriesTitle('Pilot', 'Pilot')).toBe('Pilot');
		expect(seriesTitle('Show – Pilot', null)).toBe('Show – Pilot');
	});
});

describe('entriesToForget', () => {
	const at = (season: number | null, episode: number | null, position: number, tmdb_id = 1396) => ({
		media_type: (season == null ? 'movie' : 'tv') as 'movie' | 'tv',
		tmdb_id,
		season,
		episode,
		position,
		duration: 100,
		updated_at: '2026-12-01T00:00:00Z',
		title: null
	});

	it('forgets every unfinished episode of the series, keeps the finished ones and other titles', () => {
		const entries = [at(1, 1, 99), at(1, 2, 40), at(1, 3, 20), at(1, 1, 30, 42)];
		const forgotten = entriesToForget(entries, { media_type: 'tv', tmdb_id: 1396 });
		expect(forgotten.map((e) => e.episode)).toEqual([2, 3]);
		const left = entries.filter((e) => !forgotten.includes(e));
		expect(continueWatching(left).map((e) => e.tmdb_id)).toEqual([42]);
	});
});
