// The remote origin of scripts/bench-playback.sh: serves FILE at /films/film.mkv with Range
// (206, one range), only to requests carrying `Referer: REFERER` (403 otherwise), as the CDN
// behind a debrid addon does. Logs one line per request (method, range, status) to stderr, so
// the run can show that only our proxy, with Range requests, reached it.
// Usage: node range-origin.mjs FILE REFERER   (prints its base URL on stdout, then serves)
import { createReadStream, statSync } from 'node:fs';
import { createServer } from 'node:http';

const [file, referer] = process.argv.slice(2);
if (!file || !referer) {
	console.error('usage: node range-origin.mjs FILE REFERER');
	process.exit(2);
}
const size = statSync(file).size;

const server = createServer((req, res) => {
	const range = req.headers.range ?? '';
	const log = (status) => console.error(`${req.method} ${req.url} range=${range || '-'} ${status}`);
	if (req.headers.referer !== referer) {
		log(403);
		res.writeHead(403).end('Forbidden: hotlinking');
		return;
	}
	if (req.url !== '/films/film.mkv') {
		log(404);
		res.writeHead(404).end('no such file');
		return;
	}
	const m = /^bytes=(\d*)-(\d*)$/.exec(range);
	let start = 0;
	let end = size - 1;
	if (m && (m[1] || m[2])) {
		if (m[1]) {
			start = Number(m[1]);
			if (m[2]) end = Math.min(Number(m[2]), size - 1);
		} else {
			start = Math.max(0, size - Number(m[2]));
		}
		if (start >= size || start > end) {
			log(416);
			res.writeHead(416, { 'Content-Range': `bytes */${size}` }).end();
			return;
		}
	}
	const partial = !!m;
	const headers = {
		'Content-Type': 'video/x-matroska',
		'Accept-Ranges': 'bytes',
		'Content-Length': String(end - start + 1)
	};
	if (partial) headers['Content-Range'] = `bytes ${start}-${end}/${size}`;
	log(partial ? 206 : 200);
	res.writeHead(partial ? 206 : 200, headers);
	if (req.method === 'HEAD') {
		res.end();
		return;
	}
	createReadStream(file, { start, end }).pipe(res);
});
server.listen(0, '127.0.0.1', () => console.log(`http://127.0.0.1:${server.address().port}`));
