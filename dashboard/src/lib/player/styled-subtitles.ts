// Which subtitles the player draws with libass (JASSUB) rather than as plain cues: a styled
// ASS/SSA track keeps its fonts, colours and positions (`\an8` signs at the top, `\pos`) only
// when rendered by libass; its WebVTT (`url`) stays the fallback.
import type { SubtitleTrack } from '$lib/api/types';

/**
 * The ASS file to render for `track`, or null to show its WebVTT cues: not an ASS track, the
 * browser cannot run the renderer, or rendering it already failed once during this load.
 */
export function styledUrl(
	track: SubtitleTrack | undefined,
	failed: ReadonlySet<string>,
	supported: boolean
): string | null {
	if (!supported || !track || track.format !== 'ass' || !track.ass_url) return null;
	return failed.has(track.ass_url) ? null : track.ass_url;
}

/** What JASSUB needs at minimum (its README): WebAssembly, workers and OffscreenCanvas. */
export function canRenderStyled(scope: typeof globalThis = globalThis): boolean {
	return (
		typeof scope.WebAssembly === 'object' &&
		typeof scope.Worker === 'function' &&
		typeof scope.OffscreenCanvas === 'function'
	);
}
