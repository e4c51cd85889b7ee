// Browser end-to-end tests, run by scripts/e2e.sh (which builds everything and starts the
// servers; see the header there). Debian's own Chromium, no downloaded browser.
import { defineConfig } from '@playwright/test';

const executablePath = process.env.CHROMIUM || '/usr/lib/chromium/chromium';

export default defineConfig({
	testDir: 'tests/e2e',
	outputDir: 'test-results',
	// 2 cores, three servers and ffmpeg packaging: one browser at a time.
	workers: 1,
	fullyParallel: false,
	retries: process.env.CI ? 1 : 0,
	timeout: 90_000,
	expect: { timeout: 20_000 },
	reporter: [['list']],
	use: {
		baseURL: process.env.E2E_LOCAL_URL,
		screenshot: 'on',
		trace: 'retain-on-failure',
		video: 'off',
		viewport: { width: 1280, height: 720 },
		// The interface follows the browser's languages: the specs read French unless they say
		// otherwise (18-languages runs en-US).
		locale: 'fr-FR',
		launchOptions: {
			executablePath,
			args: [
				'--no-sandbox',
				'--disable-gpu',
				'--disable-quic',
				'--no-first-run',
				'--disable-background-networking',
				'--disable-component-update',
				'--disable-sync',
				'--autoplay-policy=no-user-gesture-required'
			]
		}
	}
});
