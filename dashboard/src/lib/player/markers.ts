// Intro, recap and credits of the source being played, as pure decisions: which segment the
// position is in (the skip button), when to skip it by itself, and when the next-episode card comes.
import type { MarkerRange as Range, ResolveResponse, StreamSource } from '$lib/api/types';

/**
 * What the player reads: the API's `Markers` (`recap` comes from Jellyfin's `Recap` segments).
 */
export interface PlayerMarkers {
	intro?: Range;
	recap?: Range;
	outro?: Range;
}

export type SkipKind = 'intro' | 'recap';

export interface SkipSegment {
	kind: SkipKind;
	range: Range;
}

/** The button leaves this close to a segment's end: a skip would land where playback already is. */
export const SKIP_END_MARGIN = 0.5;
/** Without a credits marker, the next-episode card shows this long before the end. */
export const NEXT_PROMPT_SECONDS = 30;

const same = (a: PlayerMarkers | undefined, b: PlayerMarkers | undefined) =>
	JSON.stringify(a ?? null) === JSON.stringify(b ?? null);

function isEmpty(markers: PlayerMarkers | undefined): boolean {
	return !markers || (!markers.intro && !markers.recap && !markers.outro);
}

/**
 * The markers of `source`: timings differ between cuts, so a source's own markers win, and the
 * answer's top-level ones (one provider's, the first that had any) apply only to sources of
 * providers that give none per source; never to a source whose provider gives them per source,
 * nor when the top-level ones are just a copy of another source's.
 */
export function markersFor(
	source: StreamSource | null,
	response: Pick<ResolveResponse, 'sources' | 'markers'> | null
): PlayerMarkers {
	if (!source) return {};
	if (!isEmpty(source.markers)) return source.markers!;
	const top = response?.markers;
	if (isEmpty(top)) return {};
	const perSource = response!.sources.filter((s) => !isEmpty(s.markers));
	if (perSource.some((s) => same(s.markers, top))) return {};
	if (perSource.some((s) => s.provider === source.provider)) return {};
	return top!;
}

/**
 * The intro or recap the position is in, while skipping it still means something. Never during
 * the credits: detection on near-identical episodes can give an intro that runs into them, and
 * the next-episode card is the offer there.
 */
export function skipSegmentAt(markers: PlayerMarkers, time: number): SkipSegment | null {
	if (markers.outro && time >= markers.outro.start) return null;
	for (const kind of ['recap', 'intro'] as const) {
		const range = markers[kind];
		if (range && time >= range.start && time < range.end - SKIP_END_MARGIN) return { kind, range };
	}
	return null;
}

/**
 * Where auto-skip seeks to, or null: each segment is skipped once per title, so a viewer who
 * goes back into the intro on purpose gets to watch it.
 */
export function autoSkipTarget(
	segment: SkipSegment | null,
	enabled: boolean,
	done: ReadonlySet<SkipKind>
): number | null {
	if (!enabled || !segment || done.has(segment.kind)) return null;
	return segment.range.end;
}

/** Whether the next-episode card is due: from the start of the credits, else near the end. */
export function creditsReached(markers: PlayerMarkers, time: number, duration: number): boolean {
	if (!(Number.isFinite(duration) && duration > 0) || time <= 0) return false;
	return markers.outro ? time >= markers.outro.start : duration - time <= NEXT_PROMPT_SECONDS;
}
