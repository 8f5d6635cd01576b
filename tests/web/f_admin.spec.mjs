// f_admin - the admin's pages: adding a principal shows a claim code that
// works (once) at the API; a policy published from pasted YAML is listed
// and diffs against the previous one; devices and assignments are listed
// without recorded content; the organisation pause from the page is what
// `usetrace admin pause-status` reports.
import { test, expect } from '@playwright/test';
import fs from 'node:fs';
import { env, signIn, ready, shot, api, cli } from './lib.mjs';

const AD = env.admin;

test('principals: add shows a working claim code; revoke', async ({ page }) => {
	await signIn(page, AD.token, 'admin');
	await ready(page, 'principals');
	await expect(page.locator('#principals-table')).toContainText('alice');
	await page.getByLabel('Name').fill('dora');
	await page.getByLabel('Role').selectOption('subject');
	await page.getByRole('button', { name: 'Add' }).click();
	const code = (await page.locator('#claim-code').textContent()).trim();
	expect(code).toMatch(/^[0-9a-f]{16}\.[A-Za-z0-9_-]{22}$/);
	await expect(page.locator('#principals-table tr[data-name="dora"]')).toBeVisible();
	await shot(page, 'admin-principals');
	const login = await api('', 'POST', '/v1/login', { claim: code });
	expect(login.status).toBe(200);
	expect(login.json.name).toBe('dora');
	// Revoke dora from the page: her token stops working.
	await page.getByRole('button', { name: 'Revoke dora' }).click();
	await page.getByRole('dialog').getByRole('button', { name: 'Revoke' }).click();
	await expect(page.locator('#principals-table tr[data-name="dora"]')).not.toContainText(/\bno\b/);
	expect((await api(login.json.token, 'GET', '/v1/my/devices')).status).toBe(401);
});

test('devices, policies with diff, assignments: no recorded content', async ({ page }) => {
	const seen = [];
	page.on('response', async (r) => { try { seen.push((await r.body()).toString('latin1')); } catch { /* none */ } });
	await signIn(page, AD.token, 'admin');
	await page.getByRole('link', { name: 'Devices' }).click();
	await ready(page, 'devices');
	const devs = (await api(AD.token, 'GET', '/v1/admin/devices')).json.devices;
	await expect(page.locator('#devices tbody tr')).toHaveCount(devs.length);
	await shot(page, 'admin-devices');

	await page.getByRole('link', { name: 'Policies' }).click();
	await ready(page, 'policies');
	const y1 = fs.readFileSync(env.srcdir + '/policy/default.yaml', 'utf8');
	const y2 = y1.replace(/fps: 1\b/, 'fps: 2');
	expect(y2).not.toBe(y1);
	for (const y of [y1, y2]) {
		await page.getByLabel('Policy YAML to publish as the next version').fill(y);
		await page.getByRole('button', { name: 'Publish' }).click();
		await expect(page.locator('#status')).toContainText('Published version');
	}
	const pols = (await api(AD.token, 'GET', '/v1/admin/policies')).json.policies;
	await expect(page.locator('#policies tbody tr')).toHaveCount(pols.length);
	const last = Math.max(...pols.map((p) => p.version));
	await page.getByRole('button', { name: `Diff version ${last} against ${last - 1}` }).click();
	await expect(page.locator('#policy-diff')).toContainText('frames per second: 1 -> 2');
	await shot(page, 'admin-policies');

	await page.getByRole('link', { name: 'Assignments' }).click();
	await ready(page, 'assignments');
	for (const id of env.rita.assignments) await expect(page.locator(`#assignments tr[data-assignment="${id}"]`)).toBeVisible();
	await shot(page, 'admin-assignments');
	// Nothing alice or bob typed reached the admin's page.
	const all = seen.join('\n') + await page.content();
	expect(all).not.toContain(env.bob.phrase);
	expect(all).not.toContain('alice-Mark');
});

test('organisation pause from the page is what admin pause-status says', async ({ page }) => {
	await signIn(page, AD.token, 'admin');
	await page.getByRole('link', { name: 'Organisation pause' }).click();
	await ready(page, 'orgpause');
	await expect(page.locator('#org-state')).toContainText('not paused');
	expect(cli(AD, 'admin', 'pause-status')).toMatch(/^paused no$/m);
	await page.getByLabel('Pause everyone for').selectOption('900');
	await page.getByRole('button', { name: 'Pause organisation' }).click();
	await expect(page.locator('#org-state')).toContainText('paused for everyone');
	await shot(page, 'admin-orgpause');
	expect(cli(AD, 'admin', 'pause-status')).toMatch(/^paused yes until /m);
	expect((await api(AD.token, 'GET', '/v1/admin/pause')).json.paused).toBe(true);
	await page.getByRole('button', { name: 'Resume organisation' }).click();
	await expect(page.locator('#org-state')).toContainText('not paused');
	expect(cli(AD, 'admin', 'pause-status')).toMatch(/^paused no$/m);
});
