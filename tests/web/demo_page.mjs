// demo_page.mjs URL TOKEN LIST_JSON OUTDIR - the end of scripts/demo.sh:
// the demo person signs in to the web page in headless Chromium with
// TOKEN, and screenshots of their day (#/day/DAY, the day of the first
// segment of LIST_JSON, `usetrace my list --json`) and of the replay of
// that day's segment with the most actions (#/segment/ID, once its actions
// are listed and, when it has frames, the first frame is drawn) are saved
// in OUTDIR.  Prints "screenshot PATH" for each; exits 0 when both are
// saved.
import fs from 'node:fs';
import path from 'node:path';
import { chromium } from '@playwright/test';

const [url, token, listFile, outDir] = process.argv.slice(2);
const segs = JSON.parse(fs.readFileSync(listFile, 'utf8')).segments;
if (!segs.length) {
	console.error('demo_page: the person has no segments');
	process.exit(1);
}
const day = segs[0].day;
const mine = segs.filter((s) => s.day === day);
const actions = (s) => (s.summary && s.summary.actions) || 0;
const seg = mine.slice().sort((a, b) => actions(b) - actions(a))[0];
fs.mkdirSync(outDir, { recursive: true, mode: 0o700 });
const browser = await chromium.launch({ executablePath: process.env.UT_CHROMIUM || '/usr/bin/chromium',
	args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'] });
let rc = 1;
try {
	const ctx = await browser.newContext({ ignoreHTTPSErrors: true, viewport: { width: 1366, height: 900 } });
	const page = await ctx.newPage();
	await page.goto(url + '/');
	await page.getByLabel('Your token or claim code').fill(token);
	await page.getByRole('button', { name: 'Sign in' }).click();
	await page.waitForSelector('#principal');
	await page.goto(url + '/#/day/' + day);
	await page.waitForSelector('#segments tbody tr', { timeout: 30000 });
	const dayShot = path.join(outDir, 'day.png');
	await page.screenshot({ path: dayShot, fullPage: true });
	console.log('screenshot ' + dayShot);
	await page.goto(url + '/#/segment/' + seg.id);
	await page.waitForSelector('#actions > li', { timeout: 30000 });
	if (seg.summary && seg.summary.frames > 0)
		await page.waitForSelector('.stage[data-frame]', { timeout: 30000 });
	const replayShot = path.join(outDir, 'replay.png');
	await page.screenshot({ path: replayShot, fullPage: true });
	console.log('screenshot ' + replayShot);
	rc = 0;
} catch (e) {
	console.error('demo_page:', e.message);
} finally {
	await browser.close();
}
process.exit(rc);
