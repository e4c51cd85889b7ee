// The source fallback policy, kept pure so it can be tested without a browser: given the ranked
// sources, what was tried so far and one playback error, decide what the player does next.
//
// Follows hls.js's "Fatal Error Recovery" guidance: only fatal errors count (hls.js already
// retries the rest under its load policies); a media error first gets one debounced
// `recoverMediaError()`; a fatal network error is never answered with an immediate
// `startLoad()` (that can loop) but with the next source, resumed at the same position. A
// source that was playing gets one fresh start from where the viewer was before that: a
// passing network failure mid-film should not cost the viewer their source.
import type { StreamSource } from '$lib/api/types';

/** How the current source is being played. */
export type Engine = 'hls' | 'native' | 'file';

/** A playback error normalised from hls.js `ERROR` data, the `<video>` MediaError or the player. */
export interface PlaybackError {
	origin: 'hls' | 'video' | 'player';
	type: 'network' | 'media' | 'other';
	/** hls.js `ErrorDetails` (`manifestLoadError`, …), `mediaErrDecode`, `startTimeout`, … */
	details: string;
	fatal: boolean;
	/** HTTP status, when a response was received. */
	status?: number;
}

export type FailureReason =
	| 'forbidden'
	| 'not_found'
	| 'gone'
	| 'http'
	| 'network'
	| 'timeout'
	| 'codec'
	| 'media'
	| 'unsupported'
	| 'expired'
	| 'other';

/** Why one source was given up, kept so the final message can name every provider's fate. */
export interface SourceFailure {
	index: number;
	provider: string;
	quality: string;
	reason: FailureReason;
	details: string;
	status?: number;
}

export interface FallbackState {
	/** Index of the source being played, in the backend's rank order. */
	index: number;
	/** `recoverMediaError()` calls made for this source. */
	recoveries: number;
	lastRecoveryAt: number | null;
	/** This source was already restarted once after failing mid-playback. */
	retried: boolean;
	/** Sources given up so far. */
	failures: SourceFailure[];
}

export type FallbackAction =
	| { kind: 'ignore' }
	| { kind: 'recover' }
	/** Restart `sources[index]` (the same source) from `resumeAt`. */
	| { kind: 'retry'; index: number; resumeAt: number }
	/** Play `sources[index]` from `resumeAt`; `failures` are the sources just given up. */
	| { kind: 'next'; index: number; resumeAt: number; failures: SourceFailure[] }
	/** Nothing left to try; `reasons` covers every source, in rank order. */
	| { kind: 'fail'; reasons: SourceFailure[] };

export interface FallbackContext {
	/** Milliseconds since the epoch (also used to check `expires_at`). */
	now: number;
	/** Where the next source should start: the current time, or the resume point if nothing played yet. */
	position: number;
	engine: Engine;
	/** The current source had played (a frame was shown) before this error. */
	started?: boolean;
}

/** A second media error within this window means the recovery did not help. */
export const RECOVERY_WINDOW_MS = 5_000;
/** Recoveries allowed per source, however far apart, so a flaky source cannot loop forever. */
export const MAX_RECOVERIES = 2;
/** A signed URL this close to expiry is treated as expired: it would die mid-playback. */
export const EXPIRY_MARGIN_MS = 10_000;

/** The browser cannot decode this stream at all; `recoverMediaError()` will not change that. */
const CODEC_DETAILS = new Set([
	'bufferAddCodecError',
	'bufferIncompatibleCodecsError',
	'manifestIncompatibleCodecsError',
	'mediaErrSrcNotSupported'
]);

export function initialState(index = 0): FallbackState {
	return { index, recoveries: 0, lastRecoveryAt: null, retried: false, failures: [] };
}

export function isExpired(source: StreamSource, now: number): boolean {
	if (!source.expires_at) return false;
	const expiresAt = Date.parse(source.expires_at);
	return Number.isFinite(expiresAt) && expiresAt - EXPIRY_MARGIN_MS <= now;
}

export function classify(error: PlaybackError): { reason: FailureReason; status?: number } {
	const { status, details } = error;
	if (status === 403) return { reason: 'forbidden', status };
	if (status === 404) return { reason: 'not_found', status };
	if (status === 410) return { reason: 'gone', status };
	if (status !== undefined && status >= 400) return { reason: 'http', status };
	if (CODEC_DETAILS.has(details)) return { reason: 'codec' };
	if (details === 'hlsUnsupported') return { reason: 'unsupported' };
	if (details === 'expired') return { reason: 'expired' };
	if (/timeout/i.test(details)) return { reason: 'timeout' };
	if (error.type === 'network') return { reason: 'network' };
	if (error.type === 'media') return { reason: 'media' };
	return { reason: 'other' };
}

/**
 * Failures a fresh start of the same URL cannot cure: the browser cannot decode it, or the
 * origin refused it (a signed link that expired or was revoked).
 */
const FINAL_REASONS = new Set<FailureReason>(['codec', 'unsupported', 'expired', 'forbidden', 'gone', 'not_found']);

export function isRetryable(error: PlaybackError): boolean {
	return !FINAL_REASONS.has(classify(error).reason);
}

function failureOf(sources: StreamSource[], index: number, error: PlaybackError): SourceFailure {
	const source = sources[index];
	return {
		index,
		provider: source?.provider ?? '',
		quality: source?.quality ?? '',
		details: error.details,
		...classify(error)
	};
}

/**
 * The best-ranked source that has not failed and is not `current`, skipping (and reporting)
 * sources whose signed URL has expired. Going back to a better source is allowed: the user may
 * have switched away from it by hand.
 */
export function pickSource(
	sources: StreamSource[],
	failed: ReadonlySet<number>,
	now: number,
	current = -1
): { index: number | null; skipped: SourceFailure[] } {
	const skipped: SourceFailure[] = [];
	for (let index = 0; index < sources.length; index++) {
		if (index === current || failed.has(index)) continue;
		if (isExpired(sources[index], now)) {
			skipped.push(
				failureOf(sources, index, { origin: 'player', type: 'other', details: 'expired', fatal: true })
			);
			continue;
		}
		return { index, skipped };
	}
	return { index: null, skipped };
}

function byIndex(a: SourceFailure, b: SourceFailure): number {
	return a.index - b.index;
}

export function decide(
	sources: StreamSource[],
	state: FallbackState,
	error: PlaybackError,
	context: FallbackContext
): FallbackAction {
	if (!error.fatal) return { kind: 'ignore' };

	// Only hls.js has an in-place recovery; for a plain file or native HLS a decode error means
	// trying another source.
	if (error.type === 'media' && context.engine === 'hls' && !CODEC_DETAILS.has(error.details)) {
		const settled =
			state.lastRecoveryAt === null || context.now - state.lastRecoveryAt >= RECOVERY_WINDOW_MS;
		if (settled && state.recoveries < MAX_RECOVERIES) return { kind: 'recover' };
	}

	if (context.started && !state.retried && isRetryable(error)) {
		return { kind: 'retry', index: state.index, resumeAt: Math.max(0, context.position) };
	}

	const current = failureOf(sources, state.index, error);
	const failed = new Set(state.failures.map((f) => f.index));
	failed.add(state.index);
	const { index, skipped } = pickSource(sources, failed, context.now, state.index);
	const failures = [current, ...skipped];

	if (index === null) {
		const reasons = [...state.failures, ...failures].filter((f) => sources[f.index]);
		return { kind: 'fail', reasons: reasons.sort(byIndex) };
	}
	return { kind: 'next', index, resumeAt: Math.max(0, context.position), failures };
}

/** The state after the player carried out `action`. */
export function applyAction(
	state: FallbackState,
	action: FallbackAction,
	now: number
): FallbackState {
	switch (action.kind) {
		case 'ignore':
			return state;
		case 'recover':
			return { ...state, recoveries: state.recoveries + 1, lastRecoveryAt: now };
		case 'retry':
			return { ...state, retried: true };
		case 'next':
			return { ...initialState(action.index), failures: [...state.failures, ...action.failures] };
		case 'fail':
			return { ...state, failures: action.reasons };
	}
}

/** hls.js `ERROR` event data → PlaybackError. Typed loosely so this module needs no hls.js import. */
export function fromHlsError(data: {
	type: string;
	details: string;
	fatal: boolean;
	response?: { code?: number } | null;
	networkDetails?: unknown;
}): PlaybackError {
	const type =
		data.type === 'networkError' ? 'network' : data.type === 'mediaError' ? 'media' : 'other';
	let status = data.response?.code;
	if (status === undefined) {
		const xhrStatus = (data.networkDetails as { status?: unknown } | null | undefined)?.status;
		if (typeof xhrStatus === 'number') status = xhrStatus;
	}
	return {
		origin: 'hls',
		type,
		details: data.details,
		fatal: data.fatal,
		// 0 means no response (CORS, offline): not an HTTP status worth reporting.
		...(status ? { status } : {})
	};
}

const MEDIA_ERROR_DETAILS: Record<number, string> = {
	1: 'mediaErrAborted',
	2: 'mediaErrNetwork',
	3: 'mediaErrDecode',
	4: 'mediaErrSrcNotSupported'
};

/** The `<video>` element's MediaError → PlaybackError; null for an abort (a source change). */
export function fromMediaError(error: { code: number } | null): PlaybackError | null {
	if (!error || error.code === 1) return null;
	return {
		origin: 'video',
		type: error.code === 2 ? 'network' : 'media',
		details: MEDIA_ERROR_DETAILS[error.code] ?? 'mediaErrUnknown',
		fatal: true
	};
}

/** Where a source failed, as `POST /api/streaming/report` names it. */
export type ReportStage = 'manifest' | 'segment' | 'decode' | 'timeout';

/**
 * What to tell the server about a source given up after `error`, or `null` when the failure
 * says nothing about the source for other viewers: this browser cannot decode the codec or
 * play HLS at all, or our own signed URL expired.
 */
export function reportStage(error: PlaybackError): ReportStage | null {
	const { reason } = classify(error);
	if (reason === 'codec' || reason === 'unsupported' || reason === 'expired' || reason === 'other') {
		return null;
	}
	if (reason === 'timeout') return 'timeout';
	if (reason === 'media') return 'decode';
	return /^(manifest|level)/.test(error.details) || error.origin === 'video' ? 'manifest' : 'segment';
}
