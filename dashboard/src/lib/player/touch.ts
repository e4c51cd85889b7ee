// Touch gestures on the picture, as pure logic: a double tap on the left or right third seeks
// (YouTube, Netflix and Plex on phones); the middle third is left to play/pause and the controls.

export type TapZone = 'left' | 'centre' | 'right';

/** Which third of the picture `x` (from its left edge) falls in. */
export function tapZone(x: number, width: number): TapZone {
	if (width <= 0) return 'centre';
	const fraction = x / width;
	if (fraction < 1 / 3) return 'left';
	if (fraction > 2 / 3) return 'right';
	return 'centre';
}

/** Taps closer than this (ms) make a double tap: Android's own double-tap timeout. */
export const DOUBLE_TAP_MS = 300;

/**
 * Recognises double taps on a side of the picture. A tap that follows a double tap quickly on
 * the same side counts again, so three taps seek twice, as on YouTube.
 */
export class DoubleTapDetector {
	private last: { zone: TapZone; at: number } | null = null;

	constructor(private readonly windowMs = DOUBLE_TAP_MS) {}

	/** Records a tap at `at` (ms); returns its side when it completes a double tap, else null. */
	tap(zone: TapZone, at: number): 'left' | 'right' | null {
		const previous = this.last;
		this.last = { zone, at };
		if (zone === 'centre' || !previous) return null;
		if (previous.zone !== zone || at - previous.at > this.windowMs) return null;
		return zone;
	}
}
