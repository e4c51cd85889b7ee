// A stand-in for TMDB's v3 API (scripts/e2e.sh, for 17-tmdb-search.spec.ts), with the shapes of
// protocols.md §5: `/3/search/multi` (films, series and people mixed, tagged `media_type`),
// `/3/movie/{id}` and `/3/tv/{id}` for the titles it knows (none of them in the e2e library,
// whose demo film is 603), TMDB's error bodies
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
	external_ids: { imdb_id: 'tt10838180' }
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
	if (url.pathname === '/3/movie/624860') return json(res, MATRIX);
	if (url.pathname === '/3/tv/1256') return json(res, MATRIX_SERIES);
	return error(res, 404, 34, 'The resource you requested could not be found.');
});

server.listen(0, '127.0.0.1', () => {
	console.log(`http://127.0.0.1:${server.address().port}/3`);
});
