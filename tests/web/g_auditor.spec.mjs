// g_auditor - the auditor's pages: verification status as the API gives
// it; exposure reports by principal (rita read alice's segments in the
// review spec) and by subject list exactly the reads the API lists; alerts.
import { test, expect } from '@playwright/test';
import { env, signIn, ready, shot, api } from './lib.mjs';

const AU = env.audrey;

test('verification status', async ({ page }) => {
	const v = (await api(AU.token, 'GET', '/v1/audit/verify')).json;
	await signIn(page, AU.token, 'auditor');
	await ready(page, 'verify');
	await expect(page.locator('#verify-state')).toContainText(v.ok ? 'The audit log verifies' : 'does NOT verify');
	await shot(page, 'auditor-verify');
});

for (const [kind, name] of [['principal', 'rita'], ['subject', 'alice']]) {
	test(`exposure by ${kind} matches the API`, async ({ page }) => {
		await signIn(page, AU.token, 'auditor');
		await page.getByRole('link', { name: 'Exposure' }).click();
		await ready(page, 'exposure');
		await page.getByLabel(kind === 'principal' ? 'whose data a principal read' : 'who read a subject\'s data').check();
		await page.getByLabel('Name', { exact: true }).fill(name);
		await page.getByRole('button', { name: 'Show' }).click();
		await expect(page.locator('#x-count')).toBeVisible();
		// The page's query is audited too, but reads are not audit reads: the API's answer now is the same.
		const want = (await api(AU.token, 'GET', `/v1/audit/exposure?${kind}=${name}`)).json.reads;
		expect(want.length).toBeGreaterThan(0);
		const got = await page.locator('#exposure tbody tr').evaluateAll((trs) => trs.map((t) => Number(t.dataset.seq)));
		expect(got).toEqual(want.map((r) => r.seq));
		const cells = await page.locator('#exposure tbody tr').first().locator('td').allTextContents();
		expect(cells[2]).toBe(want[0].principal);
		expect(cells[5]).toBe(want[0].action);
		await shot(page, 'auditor-exposure-' + kind);
	});
}

test('alerts', async ({ page }) => {
	const al = (await api(AU.token, 'GET', '/v1/audit/alerts')).json.alerts;
	await signIn(page, AU.token, 'auditor');
	await page.getByRole('link', { name: 'Alerts' }).click();
	await ready(page, 'alerts');
	await expect(page.locator('#alerts tbody tr')).toHaveCount(al.length);
	await shot(page, 'auditor-alerts');
});
