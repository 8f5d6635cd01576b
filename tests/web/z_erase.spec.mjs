// z_erase - alice erases yesterday from the page after a confirmation that
// says what will be destroyed: the day is gone from the page, from the API
// and from `usetrace my list`; today's recordings are still there.  (Last:
// it destroys data the other specs read.)
import { test, expect } from '@playwright/test';
import { env, signIn, ready, shot, api, cli } from './lib.mjs';

const A = env.alice;

test('erase a day', async ({ page }) => {
	const Y = env.yesterday;
	const segs = JSON.parse(cli(A, 'my', 'list', '--json')).segments;
	const ys = segs.filter((s) => s.day === Y);
	expect(ys.length).toBeGreaterThan(0);
	const frames = ys.reduce((n, s) => n + s.summary.frames, 0);

	await signIn(page, A.token, 'subject');
	await page.goto(env.url + '/#/day/' + Y);
	await ready(page, 'day');
	await page.locator('#erase-day').click();
	const dlg = page.getByRole('dialog');
	await expect(dlg).toContainText(`${ys.length} segment${ys.length === 1 ? '' : 's'} and ${frames} frame`);
	await shot(page, 'person-erase-confirm');
	// Cancel first: nothing happens.
	await dlg.getByRole('button', { name: 'Cancel' }).click();
	expect((await api(A.token, 'GET', '/v1/my/days')).json.days.map((d) => d.day)).toContain(Y);
	await page.locator('#erase-day').click();
	await page.getByRole('dialog').getByRole('button', { name: 'Erase ' + Y }).click();
	await ready(page, 'days');
	await expect(page.locator(`#days li[data-day="${Y}"]`)).toHaveCount(0);
	await expect(page.locator(`#days li[data-day="${env.today}"]`)).toBeVisible();

	const days = (await api(A.token, 'GET', '/v1/my/days')).json.days.map((d) => d.day);
	expect(days).not.toContain(Y);
	expect(days).toContain(env.today);
	const after = JSON.parse(cli(A, 'my', 'list', '--json')).segments;
	expect(after.filter((s) => s.day === Y)).toEqual([]);
	expect(after.length).toBe(segs.length - ys.length);
	for (const s of ys) expect((await api(A.token, 'GET', `/v1/my/segments/${s.id}/actions`)).status).toBe(404);
});
