// A file origin as debrid services are (used by scripts/e2e.sh for 8-engine-picture.spec.ts):
// it serves the files of DIR under /films/, answers byte ranges (206) so a player or ffmpeg can
// seek, and refuses (403) any request without `Referer: REFERER`, so a file that plays proves the
// proxy injected the header the addon asked for. Every request is logged as one JSON line to
// LOG, which the spec reads to check that only ranged, proxied requests reached the origin.
// Usage: DIR=… REFERER=… LOG=… node range-origin.mjs   (prints its base URL on stdout)
import { createReadStream, appendFileSync, statSync } from 'node:fs';
import { createServer } from 'node:http';
import { basename, join } from 'node:path';

const { DIR, REFERER, LOG } = process.env;
if (!DIR || !REFERER || !LOG) {
	console.error('range-origin.mjs: DIR, REFERER and LOG must be set');
	process.exit(2);
}

/** `bytes=a-b` / `bytes=a-` / `bytes=-n` over a file of `size` bytes; null when unsatisfiable. */
function parseRange(header, size) {
	const m = /^bytes=(\d*)-(\d*)$/.exec(header);
	if (!m || (m[1] === '' && m[2] === '')) return null;
	let start = m[1] === '' ? size - Number(m[2]) : Number(m[1]);
	let end = m[1] === '' || m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
	start = Math.max(0, start);
	return start <= end && start < size ? [start, end] : null;
}

const server = createServer((req, res) => {
	const path = decodeURIComponent(new URL(req.url, 'http://origin').pathname);
	const range = req.headers.range ?? null;
	const answer = (status) => {
		appendFileSync(LOG, JSON.stringify({ method: req.method, path, range, referer: req.headers.referer ?? null, status }) + '\n');
	};
	if (req.headers.referer !== REFERER) {
		answer(403);
		res.writeHead(403).end('Sorry, you have been blocked');
		return;
	}
	// One flat folder: the name alone, so `..` leads nowhere.
	const file = path.startsWith('/films/') ? join(DIR, basename(path)) : null;
	let size;
	try {
		size = file ? statSync(file).size : -1;
	} catch {
		size = -1;
	}
	if (size < 0) {
		answer(404);
		res.writeHead(404).end();
		return;
	}
	const headers = { 'Content-Type': 'video/x-matroska', 'Accept-Ranges': 'bytes' };
	const span = range ? parseRange(range, size) : [0, size - 1];
	if (!span) {
		answer(416);
		res.writeHead(416, { 'Content-Range': `bytes */${size}` }).end();
		return;
	}
	const [start, end] = span;
	const status = range ? 206 : 200;
	answer(status);
	res.writeHead(status, {
		...headers,
		'Content-Length': String(end - start + 1),
		...(range ? { 'Content-Range': `bytes ${start}-${end}/${size}` } : {})
	});
	if (req.method === 'HEAD') res.end();
	else createReadStream(file, { start, end }).pipe(res);
});

// Stopped by the script that started it (scripts/e2e.sh kills what it started).
server.listen(0, '127.0.0.1', () => console.log(`http://127.0.0.1:${server.address().port}`));
