import { describe, expect, it } from 'vitest';
import { Hls, hlsConfig, shouldRetry, warmWorker, workerOnlyToTransmux } from './create-hls';

const retryConfig = { maxNumRetry: 3, retryDelayMs: 1000, maxRetryDelayMs: 4000 };

describe('hlsConfig', () => {
	it('is set up for VOD through the proxy', () => {
		const config = hlsConfig({ startPosition: 321.5 });

		expect(config.lowLatencyMode).toBe(false);
		expect(config.enableWorker).toBe(true);
		// Without it the ESM build of hls.js has no worker to start.
		expect(config.workerPath).toMatch(/hls\.worker\.js/);
		expect(config.startPosition).toBe(321.5);
		expect(config.renderTextTracksNatively).toBe(false);
	});

	it('installs the no-retry-on-rejection rule in every load policy', () => {
		const config = hlsConfig({ startPosition: 0 });
		for (const policy of [config.manifestLoadPolicy, config.playlistLoadPolicy, config.fragLoadPolicy]) {
			expect(policy?.default.errorRetry?.shouldRetry).toBe(shouldRetry);
			expect(policy?.default.timeoutRetry?.shouldRetry).toBe(shouldRetry);
		}
	});
});

describe('workerOnlyToTransmux', () => {
	function loaded(fragments: { initSegment: object | null }[]) {
		let handler: ((event: string, data: unknown) => void) | undefined;
		const hls = {
			config: { enableWorker: true },
			once: (event: string, h: typeof handler) => {
				expect(event).toBe(Hls.Events.LEVEL_LOADED);
				handler = h;
			}
		};
		workerOnlyToTransmux(hls as unknown as Parameters<typeof workerOnlyToTransmux>[0]);
		handler!(Hls.Events.LEVEL_LOADED, { details: { fragments } });
		return hls.config.enableWorker;
	}

	it('turns the worker off for fMP4 segments, which need no transmuxing', () => {
		expect(loaded([{ initSegment: { url: 'init.mp4' } }, { initSegment: { url: 'init.mp4' } }])).toBe(false);
	});

	it('keeps it for MPEG-TS segments, and for an empty playlist', () => {
		expect(loaded([{ initSegment: null }, { initSegment: null }])).toBe(true);
		expect(loaded([])).toBe(true);
	});
});

describe('warmWorker', () => {
	it('fetches the worker script hls.js will start, once, and again after a failure', async () => {
		const asked: string[] = [];
		let fail = true;
		const fetchScript = (url: string) => {
			asked.push(url);
			return fail ? Promise.reject(new Error('offline')) : Promise.resolve();
		};

		warmWorker(fetchScript);
		await Promise.resolve();
		await Promise.resolve();
		fail = false;
		warmWorker(fetchScript);
		warmWorker(fetchScript);

		expect(asked).toHaveLength(2);
		expect(asked[0]).toBe(hlsConfig({ startPosition: 0 }).workerPath);
	});
});

describe('shouldRetry', () => {
	it.each([403, 404, 410])('does not retry HTTP %i from the proxy, even if hls.js would', (code) => {
		expect(shouldRetry(retryConfig, 0, false, { url: '/p', code }, true)).toBe(false);
	});

	it('keeps hls.js decision for server errors and timeouts', () => {
		expect(shouldRetry(retryConfig, 0, false, { url: '/p', code: 503 }, true)).toBe(true);
		expect(shouldRetry(retryConfig, 3, false, { url: '/p', code: 503 }, false)).toBe(false);
		expect(shouldRetry(retryConfig, 0, true, undefined, true)).toBe(true);
	});
});
