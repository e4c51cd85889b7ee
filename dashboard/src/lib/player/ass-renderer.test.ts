import { beforeEach, describe, expect, it, vi } from 'vitest';

/** The renderer's worker: its error listeners, and whether it was ended. */
class FakeWorker {
	terminated = false;
	listeners: Array<(event: { message?: string }) => void> = [];
	terminate() {
		this.terminated = true;
	}
	addEventListener(_type: string, listener: (event: { message?: string }) => void) {
		this.listeners.push(listener);
	}
}

/** A stand-in for JASSUB: records what it was given and what was done to it. */
const made: FakeJassub[] = [];
class FakeJassub {
	static _supportsSIMD?: boolean;
	/** What the next instance's `ready` will be. */
	static nextReady: Promise<void> = Promise.resolve();
	timeOffset = 0;
	destroyed = false;
	ready = FakeJassub.nextReady;
	_worker = new FakeWorker();
	constructor(public options: Record<string, unknown>) {
		made.push(this);
	}
	destroy() {
		this.destroyed = true;
		return Promise.resolve();
	}
}

vi.mock('jassub', () => ({ default: FakeJassub }));
vi.mock('./ass-assets', () => ({
	workerUrl: '/_app/w.js',
	wasmUrl: '/_app/a.wasm',
	modernWasmUrl: '/_app/m.wasm',
	fontUrl: '/_app/f.woff2'
}));

const { attachAss } = await import('./ass-renderer');

beforeEach(() => {
	made.length = 0;
	FakeJassub._supportsSIMD = undefined;
	FakeJassub.nextReady = Promise.resolve();
});

const video = {} as HTMLVideoElement;

describe('attachAss', () => {
	it('renders the text over the video with our own files, without the page compiling wasm', async () => {
		const onError = vi.fn();
		attachAss(video, { load: () => Promise.resolve('[Script Info]'), onError, offset: () => 1.5 });

		await vi.waitFor(() => expect(made).toHaveLength(1));
		const [jassub] = made;
		expect(jassub.options).toMatchObject({
			video,
			subContent: '[Script Info]',
			workerUrl: '/_app/w.js',
			wasmUrl: '/_app/a.wasm',
			availableFonts: { 'liberation sans': '/_app/f.woff2' }
		});
		// Preset, so JASSUB's own feature test (a wasm compile on the page) never runs.
		expect(FakeJassub._supportsSIMD).toBe(false);
		// Subtitles 1.5 s later: libass is asked for the frame 1.5 s earlier.
		expect(jassub.timeOffset).toBe(-1.5);
		expect(onError).not.toHaveBeenCalled();
	});

	it('destroys the renderer and ends its worker on teardown', async () => {
		const teardown = attachAss(video, { load: () => Promise.resolve('x'), onError: vi.fn() });
		await vi.waitFor(() => expect(made).toHaveLength(1));

		teardown();

		expect(made[0].destroyed).toBe(true);
		expect(made[0]._worker.terminated).toBe(true);
	});

	it('starts nothing when torn down while the file is loading', async () => {
		let resolve!: (text: string) => void;
		const teardown = attachAss(video, { load: () => new Promise((r) => (resolve = r)), onError: vi.fn() });
		teardown();
		resolve('x');
		await new Promise((r) => setTimeout(r, 10));
		expect(made).toHaveLength(0);
	});

	it('reports a file that cannot be loaded, and a worker that fails, so the WebVTT is shown', async () => {
		const onError = vi.fn();
		attachAss(video, { load: () => Promise.reject(new Error('503')), onError });
		await vi.waitFor(() => expect(onError).toHaveBeenCalledTimes(1));

		FakeJassub.nextReady = new Promise(() => {});
		const failed = vi.fn();
		attachAss(video, { load: () => Promise.resolve('x'), onError: failed });
		await vi.waitFor(() => expect(made).toHaveLength(1));
		await vi.waitFor(() => expect(made[0]._worker.listeners).toHaveLength(1));
		made[0]._worker.listeners[0]({ message: 'refused' });
		await vi.waitFor(() => expect(failed).toHaveBeenCalledTimes(1));
		expect(made[0]._worker.terminated).toBe(true);
	});
});
