// playwright.config.mjs - the web suite's settings: Debian's Chromium (never
// a downloaded browser), the generated self-signed certificate accepted
// (browsers do not use the pin), a laptop-sized window, one worker (the
// specs share one server and change its state in order).
import { defineConfig } from '@playwright/test';

export default defineConfig({
	testDir: '.',
	testMatch: '*.spec.mjs',
	workers: 1,
	fullyParallel: false,
	timeout: 60_000,
	expect: { timeout: 15_000 },
	reporter: [['list']],
	outputDir: process.env.UT_WEB_SHOTS ? process.env.UT_WEB_SHOTS + '/results' : 'test-results',
	use: {
		browserName: 'chromium',
		ignoreHTTPSErrors: true,
		viewport: { width: 1366, height: 768 },
		deviceScaleFactor: 1,
		launchOptions: {
			executablePath: process.env.UT_CHROMIUM || '/usr/bin/chromium',
			args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
		},
		trace: 'off',
		screenshot: 'off',
	},
});
