// Benchmarks in Chromium, run by scripts/bench-playback.sh only (never by scripts/e2e.sh, whose
// config reads tests/e2e): the same browser and launch options, no screenshots or retries, one
// long test per run.
import { defineConfig } from '@playwright/test';
import base from './playwright.config';

export default defineConfig({
	...base,
	testDir: 'tests/bench',
	outputDir: 'test-results/bench',
	retries: 0,
	timeout: 1_800_000,
	use: { ...base.use, screenshot: 'off', trace: 'off' }
});
