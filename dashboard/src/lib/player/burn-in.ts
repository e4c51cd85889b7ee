// Image subtitles (PGS, VobSub, DVB) of a library file: a browser cannot draw them, so the server
// burns the chosen one into the picture of the file's HLS stream (`burn=<track>` on its URLs,
// `docs/playback.md`). Choosing one reloads that stream with the parameter at the current
// position; "off" or a text track reloads it without. Kept pure: the player only applies it.
import type { StreamSource, SubtitleTrack } from '$lib/api/types';

/** The query parameter naming the image subtitle to burn in. */
export const BURN_PARAM = 'burn';

/** What is burned in: the subtitle's track (`i0`…) on the source at `sourceIndex`. */
export interface BurnIn {
	track: string;
	sourceIndex: number;
}

function pathOf(url: string): string {
	return new URL(url, 'http://placeholder.invalid').pathname;
}

/**
 * `url` with `burn=<track>` set, or removed when `track` is null, every other parameter (the
 * media token `st`, the profile) kept: the token signs the file's path, not the query.
 */
export function withBurn(url: string, track: string | null): string {
	const u = new URL(url, 'http://placeholder.invalid');
	if (track) u.searchParams.set(BURN_PARAM, track);
	else u.searchParams.delete(BURN_PARAM);
	return /^https?:/.test(url) ? u.toString() : `${u.pathname}${u.search}${u.hash}`;
}

/**
 * Where `subtitle` (an image subtitle: its `url` is its file's HLS master playlist with the burn)
 * can be burned in: that source among `sources`, whatever it is playing now (the file's direct
 * play MP4 cannot burn anything). Null for a text subtitle, or when no source is that stream.
 */
export function burnTarget(sources: readonly StreamSource[], subtitle: SubtitleTrack): BurnIn | null {
	if (!subtitle.burn_in) return null;
	const path = pathOf(subtitle.url);
	// A remote file's engine source plays its `proxy_url`; a library file's, its `url`.
	const sourceIndex = sources.findIndex(
		(s) => s.type === 'hls' && (pathOf(s.url) === path || (!!s.proxy_url && pathOf(s.proxy_url) === path))
	);
	return sourceIndex < 0 ? null : { track: subtitle.burn_in, sourceIndex };
}

/** The URL to load for `sources[index]` (already profiled), with `burn` applied when it is that source. */
export function burnedUrl(url: string, index: number, burn: BurnIn | null): string {
	return burn && burn.sourceIndex === index ? withBurn(url, burn.track) : url;
}

/** Whether going from `current` to `next` changes the picture, so the stream must be reloaded. */
export function burnChanged(current: BurnIn | null, next: BurnIn | null): boolean {
	return current?.track !== next?.track || current?.sourceIndex !== next?.sourceIndex;
}
