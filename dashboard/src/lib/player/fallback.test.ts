import { describe, expect, it } from 'vitest';
import type { StreamSource } from '$lib/api/types';
import {
	applyAction,
	decide,
	fromHlsError,
	fromMediaError,
	initialState,
	MAX_RECOVERIES,
	pickSource,
	RECOVERY_WINDOW_MS,
	reportStage,
	type FallbackContext,
	type PlaybackError
} from './fallback';

const NOW = Date.parse('2026-11-23T12:00:00Z');

function source(provider: string, quality: string, extra: Partial<StreamSource> = {}): StreamSource {
	return {
		url: `https://${provider}.example/${quality}.m3u8`,
		proxy_url: `/api/streaming/proxy?p=${provider}&q=${quality}`,
		type: 'hls',
		quality,
		provider,
		headers: {},
		...extra
	};
}

const sources = [source('consumet', '1080p'), source('consumet', '720p'), source('jellyfin', 'auto')];

const ctx = (extra: Partial<FallbackContext> = {}): FallbackContext => ({
	now: NOW,
	position: 42.5,
	engine: 'hls',
	...extra
});

const manifest403: PlaybackError = {
	origin: 'hls',
	type: 'network',
	details: 'manifestLoadError',
	fatal: true,
	status: 403
};
const decodeError: PlaybackError = {
	origin: 'hls',
	type: 'media',
	details: 'bufferAppendError',
	fatal: true
};

describe('decide, mid-playback', () => {
	const fragFailure: PlaybackError = { origin: 'hls', type: 'network', details: 'fragLoadError', fatal: true, status: 502 };

	it('restarts the same source once, from where the viewer was, before moving on', () => {
		const first = decide(sources, initialState(), fragFailure, ctx({ started: true, position: 362 }));
		expect(first).toEqual({ kind: 'retry', index: 0, resumeAt: 362 });
		const state = applyAction(initialState(), first, NOW);
		const second = decide(sources, state, fragFailure, ctx({ started: true, position: 362 }));
		expect(second).toMatchObject({ kind: 'next', index: 1, resumeAt: 362 });
	});

	it('does not restart a source that never played, or one the origin refused or cannot decode', () => {
		expect(decide(sources, initialState(), fragFailure, ctx({ started: false }))).toMatchObject({ kind: 'next' });
		expect(decide(sources, initialState(), manifest403, ctx({ started: true }))).toMatchObject({ kind: 'next' });
		const codec: PlaybackError = { origin: 'hls', type: 'media', details: 'bufferAddCodecError', fatal: true };
		expect(decide(sources, initialState(), codec, ctx({ started: true }))).toMatchObject({ kind: 'next' });
	});

	it('a network failure of the last source also gets its restart before the error panel', () => {
		const last = { ...initialState(2), failures: [] };
		expect(decide(sources, last, fragFailure, ctx({ started: true, position: 60 }))).toEqual({
			kind: 'retry',
			index: 2,
			resumeAt: 60
		});
	});
});

describe('decide', () => {
	it('ignores non-fatal errors, which hls.js retries by itself', () => {
		const action = decide(sources, initialState(), { ...manifest403, fatal: false }, ctx());
		expect(action).toEqual({ kind: 'ignore' });
	});

	it('moves a fatal network error to the next source at the same position', () => {
		const action = decide(sources, initialState(), manifest403, ctx());

		expect(action).toEqual({
			kind: 'next',
			index: 1,
			resumeAt: 42.5,
			failures: [
				{
					index: 0,
					provider: 'consumet',
					quality: '1080p',
					reason: 'forbidden',
					status: 403,
					details: 'manifestLoadError'
				}
			]
		});
	});

	it.each([
		[404, 'not_found'],
		[410, 'gone'],
		[502, 'http']
	] as const)('names an HTTP %i from the proxy as %s', (status, reason) => {
		const action = decide(sources, initialState(), { ...manifest403, status }, ctx());
		expect(action).toMatchObject({ kind: 'next', failures: [{ reason, status }] });
	});

	it('gives a media error one recoverMediaError first', () => {
		expect(decide(sources, initialState(), decodeError, ctx())).toEqual({ kind: 'recover' });
	});

	it('moves on when a second media error comes within the recovery window', () => {
		const recovered = applyAction(initialState(), { kind: 'recover' }, NOW);

		const action = decide(sources, recovered, decodeError, ctx({ now: NOW + RECOVERY_WINDOW_MS - 1 }));

		expect(action).toMatchObject({ kind: 'next', index: 1, failures: [{ reason: 'media' }] });
	});

	it('recovers again after the window, but only MAX_RECOVERIES times per source', () => {
		let state = initialState();
		let now = NOW;
		for (let i = 0; i < MAX_RECOVERIES; i++) {
			expect(decide(sources, state, decodeError, ctx({ now }))).toEqual({ kind: 'recover' });
			state = applyAction(state, { kind: 'recover' }, now);
			now += RECOVERY_WINDOW_MS + 1;
		}
		expect(decide(sources, state, decodeError, ctx({ now }))).toMatchObject({ kind: 'next', index: 1 });
	});

	it('does not try to recover codec errors: the browser cannot decode that stream', () => {
		const codec: PlaybackError = { ...decodeError, details: 'bufferAddCodecError' };
		expect(decide(sources, initialState(), codec, ctx())).toMatchObject({
			kind: 'next',
			failures: [{ reason: 'codec' }]
		});
	});

	it('does not recover media errors outside hls.js (plain mp4 or native HLS)', () => {
		const mediaDecode = fromMediaError({ code: 3 })!;
		expect(decide(sources, initialState(), mediaDecode, ctx({ engine: 'file' }))).toMatchObject({
			kind: 'next',
			index: 1
		});
	});

	it('fails with every source named once all of them have failed', () => {
		let state = initialState();
		const errors: PlaybackError[] = [
			manifest403,
			{ origin: 'hls', type: 'network', details: 'fragLoadTimeOut', fatal: true },
			{ origin: 'hls', type: 'media', details: 'bufferAddCodecError', fatal: true }
		];
		let last = decide(sources, state, errors[0], ctx());
		for (const error of errors.slice(1)) {
			expect(last.kind).toBe('next');
			state = applyAction(state, last, NOW);
			last = decide(sources, state, error, ctx());
		}

		expect(last.kind).toBe('fail');
		if (last.kind !== 'fail') return;
		expect(last.reasons.map((r) => [r.index, r.provider, r.reason])).toEqual([
			[0, 'consumet', 'forbidden'],
			[1, 'consumet', 'timeout'],
			[2, 'jellyfin', 'codec']
		]);
	});

	it('fails at once when there is only one source', () => {
		const action = decide([sources[0]], initialState(), manifest403, ctx());
		expect(action).toMatchObject({ kind: 'fail', reasons: [{ index: 0, reason: 'forbidden' }] });
	});

	it('fails with no reasons when there are no sources at all', () => {
		expect(decide([], initialState(), manifest403, ctx())).toEqual({ kind: 'fail', reasons: [] });
	});

	it('skips sources whose signed URL has expired, and reports them', () => {
		const withExpired = [
			sources[0],
			source('consumet', '720p', { expires_at: '2026-11-23T11:59:00Z' }),
			sources[2]
		];

		const action = decide(withExpired, initialState(), manifest403, ctx());

		expect(action).toMatchObject({
			kind: 'next',
			index: 2,
			failures: [
				{ index: 0, reason: 'forbidden' },
				{ index: 1, reason: 'expired' }
			]
		});
	});

	it('goes back to a better source the user had left by hand, not to one that failed', () => {
		// Source 0 failed, the user then picked source 2 by hand, and source 2 fails too.
		const state = { ...initialState(2), failures: [] };
		const action = decide(sources, state, manifest403, ctx());
		expect(action).toMatchObject({ kind: 'next', index: 0 });

		const failedFirst = {
			...initialState(2),
			failures: [{ index: 0, provider: 'consumet', quality: '1080p', reason: 'network' as const, details: 'x' }]
		};
		expect(decide(sources, failedFirst, manifest403, ctx())).toMatchObject({ kind: 'next', index: 1 });
	});

	it('never resumes at a negative position', () => {
		expect(decide(sources, initialState(), manifest403, ctx({ position: -1 }))).toMatchObject({
			resumeAt: 0
		});
	});
});

describe('applyAction', () => {
	it('resets the recovery budget and records the failures when moving to the next source', () => {
		const recovered = applyAction(initialState(), { kind: 'recover' }, NOW);
		expect(recovered).toMatchObject({ recoveries: 1, lastRecoveryAt: NOW });

		const action = decide(sources, recovered, manifest403, ctx());
		const next = applyAction(recovered, action, NOW);

		expect(next).toMatchObject({ index: 1, recoveries: 0, lastRecoveryAt: null });
		expect(next.failures.map((f) => f.index)).toEqual([0]);
	});
});

describe('pickSource', () => {
	it('starts with the best-ranked source that has not expired', () => {
		const list = [source('a', '1080p', { expires_at: '2026-11-23T11:00:00Z' }), source('b', '720p')];
		expect(pickSource(list, new Set(), NOW)).toMatchObject({ index: 1, skipped: [{ index: 0, reason: 'expired' }] });
	});

	it('treats a URL about to expire as expired', () => {
		const list = [source('a', '1080p', { expires_at: '2026-11-23T12:00:05Z' })];
		expect(pickSource(list, new Set(), NOW).index).toBeNull();
	});

	it('ignores an unparsable expiry', () => {
		const list = [source('a', '1080p', { expires_at: 'soon' })];
		expect(pickSource(list, new Set(), NOW).index).toBe(0);
	});
});

describe('error normalisation', () => {
	it('reads the HTTP status of an hls.js network error', () => {
		expect(
			fromHlsError({
				type: 'networkError',
				details: 'manifestLoadError',
				fatal: true,
				response: { code: 410 }
			})
		).toEqual({ origin: 'hls', type: 'network', details: 'manifestLoadError', fatal: true, status: 410 });
	});

	it('drops status 0 (no response: CORS or offline)', () => {
		expect(
			fromHlsError({ type: 'networkError', details: 'fragLoadError', fatal: true, response: { code: 0 } })
		).not.toHaveProperty('status');
	});

	it('maps hls.js media and other error types', () => {
		expect(fromHlsError({ type: 'mediaError', details: 'bufferStalledError', fatal: false }).type).toBe('media');
		expect(fromHlsError({ type: 'muxError', details: 'remuxAllocError', fatal: true }).type).toBe('other');
	});

	it('ignores MEDIA_ERR_ABORTED from the video element and maps the other codes', () => {
		expect(fromMediaError(null)).toBeNull();
		expect(fromMediaError({ code: 1 })).toBeNull();
		expect(fromMediaError({ code: 2 })).toMatchObject({ type: 'network', details: 'mediaErrNetwork' });
		expect(fromMediaError({ code: 4 })).toMatchObject({ type: 'media', details: 'mediaErrSrcNotSupported' });
	});
});

describe('reportStage', () => {
	const error = (extra: Partial<PlaybackError>): PlaybackError => ({
		origin: 'hls',
		type: 'network',
		details: 'fragLoadError',
		fatal: true,
		...extra
	});

	it('names where the source failed', () => {
		expect(reportStage(manifest403)).toBe('manifest');
		expect(reportStage(error({ details: 'levelLoadError', status: 404 }))).toBe('manifest');
		expect(reportStage(error({ status: 502 }))).toBe('segment');
		expect(reportStage(error({}))).toBe('segment');
		expect(reportStage(decodeError)).toBe('decode');
		expect(reportStage(error({ origin: 'player', type: 'other', details: 'startTimeout' }))).toBe('timeout');
		expect(reportStage(error({ origin: 'video', details: 'mediaErrNetwork' }))).toBe('manifest');
	});

	it('reports nothing the source is not to blame for', () => {
		for (const details of ['bufferAddCodecError', 'mediaErrSrcNotSupported', 'hlsUnsupported', 'expired']) {
			expect(reportStage(error({ type: 'media', details })), details).toBeNull();
		}
		expect(reportStage(error({ type: 'other', details: 'something' }))).toBeNull();
	});
});
