// b_person - alice sees her days as /v1/my/days gives them, a day's
// segments as `usetrace my list` names them, and replays a segment: the
// frame on the page is the stored frame (a screenshot of it compared pixel
// for pixel with the PNG the API serves; with actions drawn, only the
// pixels around the drawn action differ), and the actions listed are the
// ones `usetrace my show --json` prints, typed text with its placeholders.
import { test, expect } from '@playwright/test';
import { env, signIn, ready, shot, api, cli, decodePng, region } from './lib.mjs';

const A = env.alice;

test('days and a day', async ({ page }) => {
	const days = (await api(A.token, 'GET', '/v1/my/days')).json.days;
	expect(days.map((d) => d.day).sort()).toEqual([env.yesterday, env.today]);
	await signIn(page, A.token, 'subject');
	await ready(page, 'days');
	for (const d of days) {
		const card = page.locator(`#days li[data-day="${d.day}"]`);
		await expect(card).toContainText(d.segments.length + ' segment');
		await expect(card).toContainText(d.actions + ' actions');
		await expect(card).toContainText(d.frames + ' frames');
		await expect(card).toContainText(d.blacked_frames + ' frames with blacked-out windows');
		await expect(card.locator('.apps li')).toHaveCount(d.apps.length);
		for (const a of d.apps) await expect(card.locator('.apps')).toContainText(a.app);
	}
	await shot(page, 'person-days');

	const listed = JSON.parse(cli(A, 'my', 'list', '--json')).segments
		.filter((s) => s.day === env.today).map((s) => s.id).sort();
	await page.locator(`#days li[data-day="${env.today}"] h2 a`).click();
	await ready(page, 'day');
	const rows = await page.locator('#segments tbody tr').evaluateAll((trs) => trs.map((t) => t.dataset.segment));
	expect(rows.sort()).toEqual(listed);
	await expect(page.locator('#erase-day')).toBeVisible();
	await shot(page, 'person-day');
});

test('replay: stored frames and the listed actions', async ({ page }) => {
	const segs = JSON.parse(cli(A, 'my', 'list', '--json')).segments.filter((s) => s.day === env.today);
	// The first of today's: it has frames and types alice's marker with its [PASSWORD] placeholder.
	const seg = segs.sort((a, b) => a.start_ns - b.start_ns)[0];
	expect(seg.summary.frames).toBeGreaterThan(0);
	const want = cli(A, 'my', 'show', seg.id, '--json').split('\n').filter(Boolean).map((l) => JSON.parse(l));
	expect(want.length).toBeGreaterThan(0);

	await signIn(page, A.token, 'subject');
	await page.goto(env.url + '/#/segment/' + seg.id);
	await ready(page, 'segment');
	const items = page.locator('#actions > li');
	await expect(items).toHaveCount(want.length);
	const got = await items.evaluateAll((lis) => lis.map((li) => ({ kind: li.dataset.kind, t: Number(li.dataset.tMs),
		text: li.querySelector('q') ? li.querySelector('q').textContent : null, desc: li.querySelector('.k').textContent })));
	expect(got.map((g) => [g.kind, g.t])).toEqual(want.map((w) => [w.action, w.t_ms]));
	want.forEach((w, i) => {
		if (w.action === 'type') expect(got[i].text).toBe(w.text);
		if (w.x !== null && w.action !== 'type') expect(got[i].desc).toContain('(' + w.x + ',' + w.y + ')');
	});
	// Typed text beside the frame, placeholders marked.
	const typed = want.filter((w) => w.action === 'type');
	await expect(page.locator('#typed .typed-line')).toHaveCount(typed.length);
	const phs = typed.flatMap((w) => w.text.match(/\[[A-Z][A-Z0-9_]*\]/g) || []);
	expect(phs.length).toBeGreaterThan(0);
	await expect(page.locator('#typed mark.ph').first()).toHaveText(phs[0]);
	expect(await page.locator('#typed mark.ph').count()).toBe(phs.length);
	await expect(page.locator('.stage')).toHaveAttribute('data-frame', /^\d+$/);
	await shot(page, 'person-replay');

	// The first action with a position and a frame: step to it.
	const idx = want.findIndex((w) => w.frame !== null && w.x !== null && ['click', 'double_click', 'triple_click'].includes(w.action));
	expect(idx).toBeGreaterThanOrEqual(0);
	await items.nth(idx).locator('button').click();
	const stage = page.locator('.stage');
	await expect(stage).toHaveAttribute('data-frame', String(want[idx].frame));
	const png = await api(A.token, 'GET', `/v1/my/segments/${seg.id}/frames/${want[idx].frame}`);
	expect(png.status).toBe(200);
	const stored = decodePng(png.body);

	// Room for the whole 1:1 frame (85% of the height, the full width in actual size).
	await page.setViewportSize({ width: Math.max(1366, stored.width + 120), height: Math.ceil(stored.height / 0.84) + 40 });
	await page.locator('#actual-size').check();
	await page.locator('#show-overlay').uncheck();
	const bare = await region(page, '#frame', stored.width, stored.height);
	expect([bare.width, bare.height]).toEqual([stored.width, stored.height]);
	let differ = 0;
	for (let i = 0; i < stored.data.length; i += 4)
		if (stored.data[i] !== bare.data[i] || stored.data[i + 1] !== bare.data[i + 1] || stored.data[i + 2] !== bare.data[i + 2]) differ++;
	expect(differ).toBe(0);

	// With the action drawn: pixels differ, and only within 60 px of it.
	await page.locator('#show-overlay').check();
	const drawn = await region(page, '#frame', stored.width, stored.height);
	const { x, y } = want[idx];
	let near = 0, far = 0;
	for (let py = 0; py < stored.height; py++)
		for (let px = 0; px < stored.width; px++) {
			const i = (py * stored.width + px) * 4;
			const j = (py * drawn.width + px) * 4;
			if (stored.data[i] !== drawn.data[j] || stored.data[i + 1] !== drawn.data[j + 1] || stored.data[i + 2] !== drawn.data[j + 2]) {
				if (Math.abs(px - x) <= 60 && Math.abs(py - y) <= 60) near++; else far++;
			}
		}
	expect(near).toBeGreaterThan(50);
	expect(far).toBe(0);
});

test('who read my data, policy and consent, pause', async ({ page }) => {
	await signIn(page, A.token, 'subject');
	await page.goto(env.url + '/#/audit');
	await ready(page, 'audit');
	const audit = (await api(A.token, 'GET', '/v1/my/audit')).json.entries;
	// Rows are newest first; the page read more since, so it has at least these.
	expect(await page.locator('#audit tbody tr').count()).toBeGreaterThanOrEqual(audit.length - 5);
	await expect(page.locator('#audit')).toContainText('assign');
	await shot(page, 'person-audit');
	await page.getByRole('link', { name: 'Policy and consent' }).click();
	await ready(page, 'consent');
	await expect(page.locator('#consents tbody tr')).not.toHaveCount(0);
	await shot(page, 'person-consent');
});
