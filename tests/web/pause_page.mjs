// pause_page.mjs URL TOKEN pause|resume|acked - one step of
// tests/e2e/web_agent_pause.sh done in headless Chromium through the page:
// sign in with TOKEN, open #/pause, then press "Pause" (1 hour) or "Resume
// recording", or wait until the page lists every device as having applied
// the pause.  Exits 0 when the page shows the expected state.
import { chromium } from '@playwright/test';

const [url, token, step] = process.argv.slice(2);
const browser = await chromium.launch({ executablePath: process.env.UT_CHROMIUM || '/usr/bin/chromium',
	args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'] });
let rc = 1;
try {
	const page = await (await browser.newContext({ ignoreHTTPSErrors: true })).newPage();
	await page.goto(url + '/');
	await page.getByLabel('Your token or claim code').fill(token);
	await page.getByRole('button', { name: 'Sign in' }).click();
	await page.waitForSelector('#principal');
	await page.goto(url + '/#/pause');
	await page.waitForSelector('body[data-view="pause"]');
	if (step === 'pause') {
		await page.getByLabel('Pause for').selectOption('3600');
		await page.getByRole('button', { name: 'Pause', exact: true }).click();
		await page.locator('#pause-state', { hasText: 'Paused until' }).waitFor({ timeout: 30000 });
	} else if (step === 'resume') {
		await page.getByRole('button', { name: 'Resume recording' }).click();
		await page.locator('#pause-state', { hasText: 'not paused' }).waitFor({ timeout: 30000 });
	} else if (step === 'acked') {
		// Reload until every listed device says it applied the pause (bounded).
		for (let i = 0; i < 60; i++) {
			const cells = await page.locator('#my-devices tbody tr td:nth-child(2)').allTextContents();
			const last = await page.locator('#my-devices tbody tr td:nth-child(3)').allTextContents();
			if (cells.length && cells.every((c) => c === 'yes') && last.every((c) => c.startsWith('paused'))) break;
			await page.waitForTimeout(500);
			await page.reload();
			await page.waitForSelector('body[data-view="pause"]');
		}
		const cells = await page.locator('#my-devices tbody tr td:nth-child(2)').allTextContents();
		if (!cells.length || !cells.every((c) => c === 'yes')) throw new Error('the page does not show the pause applied: ' + cells);
	} else {
		throw new Error('usage: pause_page.mjs URL TOKEN pause|resume|acked');
	}
	rc = 0;
} catch (e) {
	console.error('pause_page:', e.message);
} finally {
	await browser.close();
}
process.exit(rc);
