// Draws an ASS/SSA track over the <video> with JASSUB (libass in WebAssembly, in a worker).
// JASSUB and its files (worker, wasm, fallback font) load only when a styled track is shown;
// they are fingerprinted assets of the dashboard's build, served by our own binary.
import type JASSUB from 'jassub';

/**
 * Reaching `ready` takes one worker start and one 2 MB wasm compile: well under a second on a
 * 2-core machine. A worker that never answers (refused by a policy, a failed fetch) gives no
 * error event of its own in every browser, so a bound turns it into a fallback.
 */
const READY_TIMEOUT_MS = 15_000;

export interface AssRendererOptions {
	/** The ASS text (fetched with the API's credentials). */
	load: () => Promise<string>;
	/** Rendering cannot start: show the WebVTT instead. Not called after the teardown. */
	onError: (error: unknown) => void;
	/** The viewer's subtitle offset in seconds (positive = later), read at every frame. */
	offset?: () => number;
}

async function start(video: HTMLVideoElement, text: string): Promise<JASSUB> {
	const [{ default: Jassub }, assets] = await Promise.all([import('jassub'), import('./ass-assets')]);
	// JASSUB's feature test compiles a tiny wasm module on the page itself, which our CSP
	// refuses (no 'wasm-unsafe-eval' in script-src); it is skipped once this is set. Then only
	// the worker compiles wasm, under its own script's policy. `false` picks the plain build
	// over the SIMD one: a few percent slower on dense typesetting, invisible on dialogue.
	Jassub._supportsSIMD ??= false;
	return new Jassub({
		video,
		subContent: text,
		workerUrl: assets.workerUrl,
		wasmUrl: assets.wasmUrl,
		modernWasmUrl: assets.modernWasmUrl,
		// The bundled fallback font, from our origin: no font is looked up on the network.
		availableFonts: { 'liberation sans': assets.fontUrl },
		defaultFont: 'liberation sans',
		queryFonts: 'local'
	});
}

function ready(instance: JASSUB): Promise<void> {
	return new Promise((resolve, reject) => {
		const timer = setTimeout(() => reject(new Error('the subtitle renderer did not start')), READY_TIMEOUT_MS);
		instance._worker.addEventListener('error', (event) => {
			clearTimeout(timer);
			reject(new Error(`the subtitle renderer's worker failed: ${event.message ?? 'unknown'}`));
		});
		instance.ready.then(
			() => {
				clearTimeout(timer);
				resolve();
			},
			(error: unknown) => {
				clearTimeout(timer);
				reject(error);
			}
		);
	});
}

/**
 * Removes the canvas and ends the worker. `destroy()` alone waits for `ready` before it
 * terminates the worker, so a renderer that never started would leave its worker running.
 */
function stop(instance: JASSUB): void {
	void instance.destroy();
	instance._worker.terminate();
}

/** Renders the track over `video` until the returned teardown runs (another track, off, unload). */
export function attachAss(video: HTMLVideoElement, options: AssRendererOptions): () => void {
	let stopped = false;
	let instance: JASSUB | null = null;
	void (async () => {
		try {
			const text = await options.load();
			if (stopped) return;
			instance = await start(video, text);
			if (stopped) return stop(instance);
			const offset = options.offset;
			// JASSUB draws at `mediaTime + timeOffset` on every frame: a getter follows the
			// setting live without restarting the renderer.
			if (offset) Object.defineProperty(instance, 'timeOffset', { get: () => -offset() });
			await ready(instance);
		} catch (error) {
			if (stopped) return;
			if (instance) stop(instance);
			instance = null;
			options.onError(error);
		}
	})();
	return () => {
		stopped = true;
		if (instance) stop(instance);
		instance = null;
	};
}
