// Every hls.js option the player uses, in one place, each with its reason. This module pulls in
// hls.js itself, so the player imports it lazily: pages without a player never download it.
import Hls, { type HlsConfig, type LoaderConfig, type RetryConfig } from 'hls.js';
// The ESM build of hls.js carries no worker: without `workerPath`, `enableWorker` silently
// transmuxes on the main thread. Vite copies the worker script into the build (fingerprinted,
// same origin: the server's CSP allows it with `worker-src 'self'`).
import workerPath from 'hls.js/dist/hls.worker.js?url';

export { Hls };

/** The proxy's "this URL is dead" answers: bad or expired signature, gone upstream. */
const PROXY_REJECTIONS = new Set([403, 404, 410]);

/**
 * Never retry a 403/404/410 from our proxy: the signed URL or the upstream will not come back,
 * and every retry delays the switch to the next source. Other statuses keep hls.js's decision
 * (5xx and timeouts are retried, other 4xx are not).
 */
export const shouldRetry: NonNullable<RetryConfig['shouldRetry']> = (
	_config,
	_count,
	_isTimeout,
	response,
	retry
) => (response?.code !== undefined && PROXY_REJECTIONS.has(response.code) ? false : retry);

function policy(
	maxTimeToFirstByteMs: number,
	maxLoadTimeMs: number,
	timeoutRetries: number,
	errorRetries: number
): { default: LoaderConfig } {
	return {
		default: {
			maxTimeToFirstByteMs,
			maxLoadTimeMs,
			timeoutRetry: { maxNumRetry: timeoutRetries, retryDelayMs: 0, maxRetryDelayMs: 0, shouldRetry },
			errorRetry: {
				maxNumRetry: errorRetries,
				retryDelayMs: 1_000,
				maxRetryDelayMs: 4_000,
				backoff: 'exponential',
				shouldRetry
			}
		}
	};
}

export interface CreateHlsOptions {
	/** Seconds; the saved position when resuming, or the position of the source that failed. */
	startPosition: number;
}

export function hlsConfig({ startPosition }: CreateHlsOptions): Partial<HlsConfig> {
	return {
		// Transmuxing in a worker keeps the controls responsive on slow phones.
		enableWorker: true,
		workerPath,
		// VOD: LL-HLS part loading only adds requests (each through the proxy) and blocking
		// playlist reloads; hls.js turns it on by default.
		lowLatencyMode: false,
		// Resume inside hls.js, so the first fragments fetched are the ones at the resume point.
		// An explicit 0 (not hls.js's -1) also keeps a growing EVENT playlist from an on-the-fly
		// transcode starting at its live edge.
		startPosition,
		// We draw subtitles ourselves (size and timing offset); hls.js hands us the cues.
		renderTextTracksNatively: false,
		// Do not fetch 1080p for a phone-sized player; fullscreen lifts the cap.
		capLevelToPlayerSize: true,
		// The default keeps every played second in memory; phones run out on a two-hour film.
		backBufferLength: 60,
		maxBufferLength: 30,
		// The manifest comes through the proxy, which has to reach the upstream first: allow 10 s
		// to the first byte, then give up quickly so the next source gets its turn.
		manifestLoadPolicy: policy(10_000, 15_000, 1, 1),
		playlistLoadPolicy: policy(10_000, 15_000, 1, 2),
		// Defaults are 6 error retries with up to 8 s backoff: half a minute of a frozen picture
		// before a dead source is abandoned. Three quick retries, then the next source.
		fragLoadPolicy: policy(10_000, 60_000, 2, 3)
	};
}

let workerWarmed = false;

/**
 * Fetches hls.js's worker script into the HTTP cache (it is fingerprinted and served
 * `immutable`). hls.js starts its worker only once the first segment has arrived, and the
 * segment then waits for the script: measured idle, the worker finished loading 0.4–0.5 s after
 * the master playlist, as late as the first segment, on every HLS source. From the cache the
 * `new Worker` costs only its compile.
 */
export function warmWorker(fetchScript: (url: string) => Promise<unknown> = (url) => fetch(url)): void {
	if (workerWarmed) return;
	workerWarmed = true;
	void fetchScript(workerPath).catch(() => {
		workerWarmed = false;
	});
}

/**
 * The worker only for segments that need transmuxing (MPEG-TS). fMP4 segments (`EXT-X-MAP`: the
 * engine's AV1, VP9, HEVC, Opus, FLAC…) are handed to the SourceBuffer nearly as they are, a few
 * milliseconds of box parsing; in a worker they first wait for it to start and compile its
 * script (the AV1 direct stream's first frame 140 ms sooner without it, bench-playback back to
 * back; measured apart on static files: 60–70 ms). hls.js reads `enableWorker` when its first
 * fragment arrives, which is after the first level's playlist: the decision is made there,
 * once per source.
 */
export function workerOnlyToTransmux(hls: Pick<Hls, 'once' | 'config'>): void {
	hls.once(Hls.Events.LEVEL_LOADED, (_event, data) => {
		if (data.details.fragments[0]?.initSegment) hls.config.enableWorker = false;
	});
}

export function createHls(options: CreateHlsOptions): Hls {
	const hls = new Hls(hlsConfig(options));
	workerOnlyToTransmux(hls);
	return hls;
}
