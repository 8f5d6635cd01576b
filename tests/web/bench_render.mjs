// bench_render.mjs URL TOKEN LIST_JSON REPS - the measuring half of
// bench/web_render.sh (see there): time to first render of the days, a
// day and a replay, and the bytes the browser transferred for each.
import fs from 'node:fs';
import { chromium } from '@playwright/test';

const [url, token, listFile, repsArg] = process.argv.slice(2);
const reps = Number(repsArg || 5);
const segs = JSON.parse(fs.readFileSync(listFile, 'utf8')).segments;
const day = segs[0].day;
const mine = segs.filter((s) => s.day === day);
const big = mine.slice().sort((a, b) => b.summary.actions - a.summary.actions)[0];
const sum = (k) => mine.reduce((n, s) => n + s.summary[k], 0);
console.log(`day ${day}: ${mine.length} segments, ${sum('actions')} actions, ${sum('frames')} frames, ` +
	`${mine.reduce((n, s) => n + s.size, 0)} bytes stored; largest segment ${big.summary.actions} actions, ${big.summary.frames} frames`);

const browser = await chromium.launch({ executablePath: process.env.UT_CHROMIUM || '/usr/bin/chromium', args: ['--no-sandbox'] });
const results = { days: [], day: [], replay: [] };
const listed = [];
for (let i = 0; i < reps; i++) {
	for (const [name, hash, done] of [
		['days', '#/days', `#days li[data-day="${day}"]`],
		['day', '#/day/' + day, '#segments tbody tr'],
		['replay', '#/segment/' + big.id, '#actions > li'],
	]) {
		const ctx = await browser.newContext({ ignoreHTTPSErrors: true, viewport: { width: 1366, height: 768 } });
		const page = await ctx.newPage();
		// Sign in first (not measured), then a cold load of the view.
		await page.goto(url + '/');
		await page.fill('#secret', token);
		await page.click('#signin button[type=submit]');
		await page.waitForSelector('#principal');
		await page.goto('about:blank');
		const t0 = Date.now();
		await page.goto(url + '/' + hash);
		await page.waitForSelector(done, { timeout: 60000 });
		if (name === 'replay') {
			await page.waitForFunction((n) => document.querySelectorAll('#actions > li').length === n, big.summary.actions);
			listed.push(Date.now() - t0);
			await page.waitForSelector('.stage[data-frame]', { timeout: 60000 });
		}
		const ms = Date.now() - t0;
		const net = await page.evaluate(() => performance.getEntriesByType('resource').concat(performance.getEntriesByType('navigation'))
			.reduce((a, e) => ({ bytes: a.bytes + (e.transferSize || 0), n: a.n + 1 }), { bytes: 0, n: 0 }));
		results[name].push({ ms, ...net });
		console.log(`run ${i + 1} ${name}: ${ms} ms` + (name === 'replay' ? ` (actions listed at ${listed[listed.length - 1]} ms)` : '') +
			`, ${net.bytes} bytes in ${net.n} requests`);
		await ctx.close();
	}
}
await browser.close();
const med = (xs) => xs.slice().sort((a, b) => a - b)[Math.floor(xs.length / 2)];
console.log(`median replay actions listed: ${med(listed)} ms`);
for (const [k, v] of Object.entries(results))
	console.log(`median ${k}: ${med(v.map((x) => x.ms))} ms, ${med(v.map((x) => x.bytes))} bytes, ${med(v.map((x) => x.n))} requests`);
