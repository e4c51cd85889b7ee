// When to save the watch position: every few seconds while playing, and at once on pause and
// when the page goes away. Pure timing logic; the actual request is the `save` callback.
import type { ProgressUpdate } from '$lib/api/types';

export type SaveProgress = (update: ProgressUpdate, options: { keepalive: boolean }) => void;

/** Often enough to lose little on a crash, rarely enough not to flood the server. */
export const SAVE_INTERVAL_MS = 10_000;

export class ProgressSaver {
	#save: SaveProgress;
	#intervalMs: number;
	#lastSavedAt = -Infinity;
	#lastPosition: number | null = null;
	#armed = false;

	constructor(save: SaveProgress, intervalMs = SAVE_INTERVAL_MS) {
		this.#save = save;
		this.#intervalMs = intervalMs;
	}

	/**
	 * Start saving. Until then nothing is sent: before playback reaches the resume point the
	 * position is 0, and saving it would wipe the saved position.
	 */
	arm(): void {
		this.#armed = true;
	}

	disarm(): void {
		this.#armed = false;
	}

	/** Called on every time update; saves when the interval has passed. */
	tick(position: number, duration: number, now: number): void {
		if (now - this.#lastSavedAt < this.#intervalMs) return;
		this.#send(position, duration, now, false);
	}

	/** Pause, pagehide, leaving the page: save now if anything changed. */
	flush(position: number, duration: number, now: number, keepalive = false): void {
		this.#send(position, duration, now, keepalive);
	}

	#send(position: number, duration: number, now: number, keepalive: boolean): void {
		// Live or unknown durations cannot be resumed meaningfully.
		if (!this.#armed || !Number.isFinite(duration) || duration <= 0) return;
		if (!Number.isFinite(position) || position < 0) return;
		if (this.#lastPosition !== null && Math.abs(position - this.#lastPosition) < 1) return;
		this.#lastSavedAt = now;
		this.#lastPosition = position;
		this.#save({ position: Math.round(position * 10) / 10, duration: Math.round(duration * 10) / 10 }, { keepalive });
	}
}
