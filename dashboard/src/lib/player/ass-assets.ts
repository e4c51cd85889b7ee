// JASSUB's worker, wasm and fallback font as files of the dashboard's own build (Vite copies
// them in, fingerprinted), so nothing is fetched from a CDN and the CSP's 'self' covers them.
// A separate module: imported only when a styled track is shown.
export { default as workerUrl } from 'jassub/dist/worker/worker.js?worker&url';
export { default as wasmUrl } from 'jassub/dist/wasm/jassub-worker.wasm?url';
export { default as modernWasmUrl } from 'jassub/dist/wasm/jassub-worker-modern.wasm?url';
export { default as fontUrl } from 'jassub/dist/default.woff2?url';
