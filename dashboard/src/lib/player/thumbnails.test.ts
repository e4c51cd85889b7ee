import { describe, expect, it, vi } from 'vitest';
import { gridCues, loadThumbnails, parseThumbnails, thumbnailAt, thumbnailsUrl } from './thumbnails';

// As the server writes it (src/library/thumbnails.rs): hours always present, URLs relative.
const TRACK = `WEBVTT

00:00:00.000 --> 00:00:10.000
thumbnails/0.jpg?st=9.abc#xywh=0,0,320,180

00:00:10.000 --> 00:00:20.000
thumbnails/0.jpg?st=9.abc#xywh=320,0,320,180

00:16:30.000 --> 00:16:40.000
thumbnails/0.jpg?st=9.abc#xywh=2880,1620,320,180

00:16:40.000 --> 00:16:45.500
thumbnails/1.jpg?st=9.abc#xywh=0,0,320,180
`;
const BASE = '/api/media/12/thumbnails.vtt?st=9.abc';

describe('seek thumbnails', () => {
	it('finds the tile of a time, resolved against the track URL', () => {
		const cues = parseThumbnails(TRACK, BASE);
		expect(cues).toHaveLength(4);
		expect(thumbnailAt(cues, 0)).toEqual({
			start: 0,
			end: 10,
			url: '/api/media/12/thumbnails/0.jpg?st=9.abc',
			x: 0,
			y: 0,
			w: 320,
			h: 180
		});
		expect(thumbnailAt(cues, 12.5)?.x).toBe(320);
		expect(thumbnailAt(cues, 995)).toMatchObject({ x: 2880, y: 1620 });
		expect(thumbnailAt(cues, 1000)?.url).toBe('/api/media/12/thumbnails/1.jpg?st=9.abc');
		expect(thumbnailAt(cues, 1005.5)?.url).toBe('/api/media/12/thumbnails/1.jpg?st=9.abc');
		// Nothing where no tile exists: a gap, before the start, past the end.
		expect(thumbnailAt(cues, 500)).toBeNull();
		expect(thumbnailAt(cues, -1)).toBeNull();
		expect(thumbnailAt(cues, 1006)).toBeNull();
		expect(thumbnailAt([], 3)).toBeNull();
	});

	it('reads short timestamps, CRLF and absolute URLs, and drops malformed cues', () => {
		const cues = parseThumbnails(
			'WEBVTT\r\n\r\n01:00.000 --> 01:05.000\r\nhttps://cdn.example/s.jpg#xywh=10,20,160,90\r\n\r\n' +
				'00:05.000 --> 00:04.000\r\na.jpg#xywh=0,0,1,1\r\n\r\n' +
				'00:05.000 --> 00:06.000\r\nno-fragment.jpg\r\n\r\n' +
				'00:06.000 --> 00:07.000\r\nb.jpg#xywh=0,0,-1,5\r\n',
			BASE
		);
		expect(cues).toEqual([{ start: 60, end: 65, url: 'https://cdn.example/s.jpg', x: 10, y: 20, w: 160, h: 90 }]);
		expect(parseThumbnails('not a track', BASE)).toEqual([]);
	});

	it('derives the track of library sources only, keeping their media token', () => {
		expect(thumbnailsUrl({ url: '/api/media/12/file?st=9.abc' })).toBe('/api/media/12/thumbnails.vtt?st=9.abc');
		expect(thumbnailsUrl({ url: '/api/media/12/hls/master.m3u8' })).toBe('/api/media/12/thumbnails.vtt');
		expect(thumbnailsUrl({ url: 'https://cdn.example/master.m3u8' })).toBeNull();
		expect(thumbnailsUrl({ url: '/api/streaming/proxy?c=x' })).toBeNull();
		expect(thumbnailsUrl(null)).toBeNull();
	});

	it('loads nothing when the track is missing or unreachable', async () => {
		const notFound = vi.fn(async () => new Response('{}', { status: 404 }));
		expect(await loadThumbnails({ url: '/api/media/3/file' }, notFound)).toEqual([]);
		expect(notFound).toHaveBeenCalledWith('/api/media/3/thumbnails.vtt');
		const down = vi.fn(async () => {
			throw new TypeError('offline');
		});
		expect(await loadThumbnails({ url: '/api/media/3/file' }, down)).toEqual([]);
		const ok = vi.fn(async () => new Response(TRACK));
		expect(await loadThumbnails({ url: '/api/media/12/file?st=9.abc' }, ok)).toHaveLength(4);
		const remote = vi.fn();
		expect(await loadThumbnails({ url: 'https://cdn.example/a.m3u8' }, remote)).toEqual([]);
		expect(remote).not.toHaveBeenCalled();
	});

	// Jellyfin's trickplay as the server sends it: 735 thumbnails of 320x134, 10x10 a sheet.
	const GRID = {
		sheets: Array.from({ length: 8 }, (_, i) => `/api/streaming/proxy/${i}.jpg?c=x`),
		grid: { interval: 10, width: 320, height: 134, columns: 10, rows: 10, count: 735 }
	};

	it('maps a tile grid like the server does, the last thumbnail covering later times', () => {
		const cues = gridCues(GRID);
		expect(cues).toHaveLength(735);
		// The table of src/providers/jellyfin.rs: t → (sheet, x, y).
		const table: [number, [number, number, number]][] = [
			[0, [0, 0, 0]],
			[9.999, [0, 0, 0]],
			[10, [0, 320, 0]],
			[95, [0, 9 * 320, 0]],
			[100, [0, 0, 134]],
			[999, [0, 9 * 320, 9 * 134]],
			[1000, [1, 0, 0]],
			[7339, [7, 3 * 320, 3 * 134]],
			[7345, [7, 4 * 320, 3 * 134]],
			[7350, [7, 4 * 320, 3 * 134]],
			[99_999, [7, 4 * 320, 3 * 134]]
		];
		for (const [t, [sheet, x, y]] of table) {
			expect(thumbnailAt(cues, t), `t = ${t}`).toMatchObject({ url: GRID.sheets[sheet], x, y, w: 320, h: 134 });
		}
		expect(thumbnailAt(cues, -1)).toBeNull();
		expect(gridCues({ ...GRID, sheets: GRID.sheets.slice(0, 2) })).toHaveLength(200);
		expect(gridCues({ ...GRID, grid: { ...GRID.grid, interval: 0 } })).toEqual([]);
	});

	it('uses the sheets of a remote source only when its first sheet loads', async () => {
		const fetchNever = vi.fn();
		const source = { url: '/api/streaming/proxy?c=y', thumbnails: GRID };
		const loads = vi.fn(async () => true);
		expect(await loadThumbnails(source, fetchNever, loads)).toHaveLength(735);
		expect(loads).toHaveBeenCalledWith(GRID.sheets[0]);
		expect(await loadThumbnails(source, fetchNever, async () => false)).toEqual([]);
		expect(fetchNever).not.toHaveBeenCalled();
	});
});
