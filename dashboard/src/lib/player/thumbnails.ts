// Seek thumbnails: the WebVTT thumbnails track of a library file (cues whose text is a sheet URL
// with a `#xywh=` fragment), or the sheets and tile grid a remote source carries (Jellyfin's
// trickplay), made into cues once per source, then looked up at the time under the pointer.
import type { SourceThumbnails, StreamSource } from '$lib/api/types';

export interface ThumbnailCue {
	start: number;
	end: number;
	/** The sheet, resolved against the track's URL (same-origin paths stay paths). */
	url: string;
	x: number;
	y: number;
	w: number;
	h: number;
}

const LIBRARY_MEDIA = /^(\/api\/media\/\d+\/)[^?#]*(\?[^#]*)?$/;

/**
 * The thumbnails track of a source: library files have one next to their media, under the same
 * signed scope (`/api/media/{id}/…?st=` → `/api/media/{id}/thumbnails.vtt?st=`); other sources
 * have none.
 */
export function thumbnailsUrl(source: Pick<StreamSource, 'url'> | null): string | null {
	const match = source ? LIBRARY_MEDIA.exec(source.url) : null;
	if (!match) return null;
	const token = new URLSearchParams(match[2] ?? '').get('st');
	return `${match[1]}thumbnails.vtt${token ? `?st=${token}` : ''}`;
}

/** `hh:mm:ss.ttt` or `mm:ss.ttt`, in seconds; NaN when it is neither. */
function seconds(ts: string): number {
	const m = /^(?:(\d+):)?(\d{2}):(\d{2})\.(\d{3})$/.exec(ts.trim());
	if (!m) return NaN;
	return Number(m[1] ?? 0) * 3600 + Number(m[2]) * 60 + Number(m[3]) + Number(m[4]) / 1000;
}

const ORIGIN = 'http://relative.invalid';

function resolve(url: string, base: string): string {
	const resolved = new URL(url, new URL(base, ORIGIN));
	return resolved.origin === ORIGIN ? resolved.pathname + resolved.search : resolved.href;
}

/** The cues of a WebVTT thumbnails track loaded from `base`; cues without a tile are dropped. */
export function parseThumbnails(vtt: string, base: string): ThumbnailCue[] {
	const text = vtt.replace(/\r\n?/g, '\n');
	if (!/^(\uFEFF)?WEBVTT(\s|$)/.test(text)) return [];
	const cues: ThumbnailCue[] = [];
	for (const block of text.split(/\n{2,}/).slice(1)) {
		const lines = block.split('\n').filter((l) => l.trim() !== '');
		const timing = lines.findIndex((l) => l.includes('-->'));
		const payload = lines[timing + 1];
		if (timing < 0 || !payload) continue;
		const [from, to] = lines[timing].split('-->');
		const start = seconds(from);
		const end = seconds(to.trim().split(/\s+/)[0]);
		const [url, fragment] = payload.trim().split('#xywh=');
		const rect = (fragment ?? '').split(',').map(Number);
		if (!(end > start) || !url || rect.length !== 4 || !rect.every((v) => Number.isInteger(v) && v >= 0)) continue;
		const [x, y, w, h] = rect;
		if (w === 0 || h === 0) continue;
		cues.push({ start, end, url: resolve(url, base), x, y, w, h });
	}
	return cues.sort((a, b) => a.start - b.start);
}

/** The cue shown at `time` (cues are sorted and do not overlap), or null. */
export function thumbnailAt(cues: readonly ThumbnailCue[], time: number): ThumbnailCue | null {
	let lo = 0;
	let hi = cues.length - 1;
	while (lo <= hi) {
		const mid = (lo + hi) >> 1;
		const cue = cues[mid];
		if (time < cue.start) hi = mid - 1;
		else if (time >= cue.end) lo = mid + 1;
		else return cue;
	}
	// The last cue ends at the duration: its end shows it too.
	const last = cues[cues.length - 1];
	return last && time === last.end ? last : null;
}

/**
 * The cues of a tile grid (`TileGrid` in src/models.rs): thumbnail n covers [n, n+1) intervals
 * and sits in sheet floor(n / per sheet); the last one also covers every later time, as the
 * server's `TileGrid::tile_at` clamps. Sheets missing from the list leave their tiles out.
 */
export function gridCues({ sheets, grid }: SourceThumbnails): ThumbnailCue[] {
	const { interval, width: w, height: h, columns, rows, count } = grid;
	const perSheet = columns * rows;
	if (!(interval > 0) || !(w > 0) || !(h > 0) || !(perSheet > 0)) return [];
	const cues: ThumbnailCue[] = [];
	for (let n = 0; n < count; n++) {
		const url = sheets[Math.floor(n / perSheet)];
		if (!url) break;
		const k = n % perSheet;
		const end = n === count - 1 ? Infinity : (n + 1) * interval;
		cues.push({ start: n * interval, end, url, x: (k % columns) * w, y: Math.floor(k / columns) * h, w, h });
	}
	return cues;
}

/** Whether an image loads (a sheet the upstream no longer has is a 404). */
function imageLoads(url: string): Promise<boolean> {
	return new Promise((resolve) => {
		const image = new Image();
		image.onload = () => resolve(image.naturalWidth > 0);
		image.onerror = () => resolve(false);
		image.src = url;
	});
}

/**
 * The track's cues; none when the source has no track or it cannot be loaded (a 404 before the
 * job ran). A remote source's sheets are used once its first one loads, so an upstream that
 * lists thumbnails it cannot serve shows none rather than empty frames.
 */
export async function loadThumbnails(
	source: Pick<StreamSource, 'url' | 'thumbnails'> | null,
	fetchImpl: typeof fetch = fetch,
	loads: (url: string) => Promise<boolean> = imageLoads
): Promise<ThumbnailCue[]> {
	if (source?.thumbnails) {
		const cues = gridCues(source.thumbnails);
		return cues.length > 0 && (await loads(cues[0].url)) ? cues : [];
	}
	const url = thumbnailsUrl(source);
	if (!url) return [];
	try {
		const response = await fetchImpl(url);
		return response.ok ? parseThumbnails(await response.text(), url) : [];
	} catch {
		return [];
	}
}
