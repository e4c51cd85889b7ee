// A stand-in for TMDB's v3 API (scripts/e2e.sh, for 17-tmdb-search.spec.ts and the title pages
// of 15-details.spec.ts), with the shapes of protocols.md §5: `/3/search/multi` (films, series and
// people mixed, tagged `media_type`), `/3/movie/{id}`, `/3/tv/{id}` and `/3/tv/{id}/season/{n}`
// for the titles it knows (two outside the e2e library, and its demo film 603 and series 1396,
// without posters or stills so that the pages show the library's frames), TMDB's error bodies
// `{"success":false,"status_code":N,"status_message":…}` (401/7 without the key, 404/34 for an
// unknown title). Usage: KEY=… node fake-tmdb.mjs   (prints its base URL, `…/3`, on stdout)
import { createServer } from 'node:http';

const { KEY } = process.env;
if (!KEY) {
	console.error('fake-tmdb.mjs: KEY must be set');
	process.exit(2);
}

const MATRIX = {
	id: 624860,
	title: 'The Matrix Resurrections',
	original_title: 'The Matrix Resurrections',
	original_language: 'en',
	release_date: '2021-12-16',
	overview: 'Un pirate informatique apprend la vérité sur la réalité qu’il croit vivre.',
	poster_path: null,
	backdrop_path: null,
	imdb_id: 'tt10838180',
	external_ids: { imdb_id: 'tt10838180' },
	runtime: 148,
	genres: [
		{ id: 878, name: 'Science Fiction' },
		{ id: 28, name: 'Action' }
	],
	vote_average: 6.4
};
const MATRIX_OVERVIEW_EN = 'A hacker learns the truth about the reality he believes he lives in.';
// The e2e library's demo film and series (scripts/e2e.sh, `sokoul demo-library`).
const DEMO_FILM = {
	id: 603,
	title: 'Sokoul Demo Direct Play',
	release_date: '2024-01-01',
	overview: 'A film made of colour bars and a tone.',
	poster_path: null,
	backdrop_path: null,
	runtime: 136,
	genres: [
		{ id: 28, name: 'Action' },
		{ id: 878, name: 'Science Fiction' }
	],
	vote_average: 7.8,
	external_ids: { imdb_id: 'tt0133093' }
};
const DEMO_SERIES = {
	id: 1396,
	name: 'Sokoul Demo Series',
	first_air_date: '2024-01-07',
	overview: 'A series made of colour bars and a tone.',
	poster_path: null,
	backdrop_path: null,
	episode_run_time: [2],
	genres: [{ id: 18, name: 'Drama' }],
	vote_average: 8.9,
	seasons: [{ season_number: 1, name: 'Season 1', episode_count: 3, air_date: '2024-01-07', poster_path: null }],
	external_ids: { imdb_id: 'tt0903747' }
};
const DEMO_SEASON_1 = {
	id: 3572,
	season_number: 1,
	name: 'Season 1',
	air_date: '2024-01-07',
	poster_path: null,
	episodes: [
		{ id: 1, season_number: 1, episode_number: 1, name: 'Pilot', air_date: '2024-01-07', runtime: 2, still_path: null,
			overview: 'The bars line up for the first time.', vote_average: 8.3 },
		{ id: 2, season_number: 1, episode_number: 2, name: 'The Next One', air_date: '2024-01-14', runtime: 2, still_path: null,
			overview: 'The tone rises by an octave.', vote_average: 8.2 },
		{ id: 3, season_number: 1, episode_number: 3, name: 'The Third One', air_date: '2024-01-21', runtime: 2, still_path: null,
			overview: 'Not in the library: the providers have it.', vote_average: 8.1 }
	]
};
const MATRIX_SERIES = {
	id: 1256,
	name: 'Matrix',
	original_name: 'Matrix',
	first_air_date: '1993-03-01',
	overview: 'Steven Matrix, un tueur à gages…',
	poster_path: null,
	seasons: [{ season_number: 1, name: 'Saison 1', episode_count: 13, air_date: '1993-03-01', poster_path: null }]
};
const PEOPLE = [{ id: 6384, name: 'Keanu Reeves', media_type: 'person', known_for_department: 'Acting' }];

const error = (res, http, code, message) => {
	res.writeHead(http, { 'content-type': 'application/json;charset=utf-8' });
	res.end(JSON.stringify({ success: false, status_code: code, status_message: message }));
};
const json = (res, body) => {
	res.writeHead(200, { 'content-type': 'application/json;charset=utf-8' });
	res.end(JSON.stringify(body));
};

const server = createServer((req, res) => {
	const url = new URL(req.url, 'http://tmdb');
	if (url.searchParams.get('api_key') !== KEY) {
		return error(res, 401, 7, 'Invalid API key: You must be granted a valid key.');
	}
	if (url.pathname === '/3/search/multi') {
		const q = (url.searchParams.get('query') ?? '').toLowerCase();
		const hits = q && 'the matrix'.includes(q.replace(/^the /, '')) ? [
			{ ...MATRIX, media_type: 'movie' },
			{ ...MATRIX_SERIES, media_type: 'tv' },
			...PEOPLE
		] : [];
		return json(res, { page: 1, results: hits, total_pages: 1, total_results: hits.length });
	}
	if (url.pathname === '/3/movie/624860') {
		// TMDB translates into `language` (`fr`, `en-US`): the film's synopsis exists in both.
		const english = (url.searchParams.get('language') ?? '').startsWith('en');
		return json(res, english ? { ...MATRIX, overview: MATRIX_OVERVIEW_EN } : MATRIX);
	}
	if (url.pathname === '/3/tv/1256') return json(res, MATRIX_SERIES);
	if (url.pathname === '/3/movie/603') return json(res, DEMO_FILM);
	if (url.pathname === '/3/tv/1396') return json(res, DEMO_SERIES);
	if (url.pathname === '/3/tv/1396/season/1') return json(res, DEMO_SEASON_1);
	return error(res, 404, 34, 'The resource you requested could not be found.');
});

server.listen(0, '127.0.0.1', () => {
	console.log(`http://127.0.0.1:${server.address().port}/3`);
});
