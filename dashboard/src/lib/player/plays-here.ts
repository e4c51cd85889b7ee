// Whether this browser plays a source as it comes. A file source may carry its type with codecs
// (`mime`, e.g. a library MKV holding AV1 + Opus, which Chromium and Firefox play directly and
// Safari does not): the `<video>`'s own `canPlayType` decides, before any byte is fetched, so a
// browser that cannot play it goes straight to the file's HLS packaging, listed after it,
// instead of failing on it first. Sources without `mime` are tried as before.
import type { StreamSource } from '$lib/api/types';

export type CanPlayType = (mime: string) => string;

let probe: HTMLVideoElement | null = null;

function browserCanPlayType(mime: string): string {
	// Outside a browser (server rendering), nothing is ruled out: the player decides later.
	if (typeof document === 'undefined') return 'maybe';
	probe ??= document.createElement('video');
	return probe.canPlayType(mime);
}

export function playsHere(source: Pick<StreamSource, 'type' | 'mime'>, canPlayType: CanPlayType = browserCanPlayType): boolean {
	return source.type !== 'mp4' || !source.mime || canPlayType(source.mime) !== '';
}

/** The sources this browser can play, in their order. */
export function playableHere<T extends Pick<StreamSource, 'type' | 'mime'>>(sources: readonly T[], canPlayType?: CanPlayType): T[] {
	return sources.filter((s) => playsHere(s, canPlayType));
}
