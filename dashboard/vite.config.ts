import adapter from '@sveltejs/adapter-static';
import { sveltekit } from '@sveltejs/kit/vite';
import { svelteTesting } from '@testing-library/svelte/vite';
import { defineConfig } from 'vitest/config';

export default defineConfig({
	plugins: [
		sveltekit({
			compilerOptions: {
				// Runes everywhere except in third-party libraries (can go with Svelte 6).
				runes: ({ filename }) =>
					filename.split(/[/\\]/).includes('node_modules') ? undefined : true
			},
			// A pure SPA: the Rust server serves build/ and answers every unknown non-API path with
			// index.html (browser-and-player.md §5), so the router takes over in the browser.
			adapter: adapter({ pages: 'build', assets: 'build', fallback: 'index.html', strict: true })
		}),
		// vitest only: resolves Svelte's browser build (otherwise `mount` is "not available on the
		// server") and cleans the DOM between tests.
		svelteTesting()
	],
	build: {
		// hls.js (~580 kB minified, ~180 kB gzip) is its own chunk, loaded only when the player
		// starts; the default 500 kB warning would fire on every build for that one file.
		chunkSizeWarningLimit: 640
	},
	server: {
		// `npm run dev` talks to a local `sokoul serve` on the default SOKOUL_BIND.
		proxy: { '/api': 'http://127.0.0.1:8080' }
	},
	test: {
		environment: 'jsdom',
		include: ['src/**/*.{test,spec}.{js,ts}'],
		setupFiles: ['./src/vitest-setup.ts']
	}
});
