// d_pause - alice pauses her agents from the page: GET /v1/my/pause says
// so, and her device's control poll answers a paused state; resume from
// the page ends it.
import { test, expect } from '@playwright/test';
import { env, signIn, ready, shot, api } from './lib.mjs';

const A = env.alice;

test('pause and resume my agents', async ({ page }) => {
	expect((await api(A.token, 'GET', '/v1/my/pause')).json.paused).toBe(false);
	await signIn(page, A.token, 'subject');
	await page.goto(env.url + '/#/pause');
	await ready(page, 'pause');
	await expect(page.locator('#pause-state')).toContainText('not paused');
	await page.getByLabel('Pause for').selectOption('3600');
	await page.getByRole('button', { name: 'Pause', exact: true }).click();
	await expect(page.locator('#pause-state')).toContainText('Paused until');
	await shot(page, 'person-pause');
	const st = (await api(A.token, 'GET', '/v1/my/pause')).json;
	expect(st.paused).toBe(true);
	const ctl = await api(env.alice.device_token || '', 'GET', '/v1/device/control');
	if (env.alice.device_token) expect(JSON.stringify(ctl.json)).toMatch(/"paused":true/);

	await page.getByRole('button', { name: 'Resume recording' }).click();
	await expect(page.locator('#pause-state')).toContainText('not paused');
	expect((await api(A.token, 'GET', '/v1/my/pause')).json.paused).toBe(false);
});
