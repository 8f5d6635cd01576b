// d_pause - alice pauses her agents from the page: GET /v1/my/pause says
// so, her device's control poll answers my_pause paused; once the device
// acknowledges (as the agent does after stopping capture) the page shows
// it; resume from the page ends it, in the API and in the control poll.
// (The real agent under Xvfb is not started here.)
import { test, expect } from '@playwright/test';
import { env, signIn, ready, shot, api } from './lib.mjs';

const A = env.alice;

test('pause and resume my agents', async ({ page }) => {
	expect((await api(A.token, 'GET', '/v1/my/pause')).json.paused).toBe(false);
	expect((await api(A.device_token, 'GET', '/v1/device/control')).json.my_pause.paused).toBe(false);
	await signIn(page, A.token, 'subject');
	await page.goto(env.url + '/#/pause');
	await ready(page, 'pause');
	await expect(page.locator('#pause-state')).toContainText('not paused');
	await page.getByLabel('Pause for').selectOption('3600');
	await page.getByRole('button', { name: 'Pause', exact: true }).click();
	await expect(page.locator('#pause-state')).toContainText('Paused until');
	const st = (await api(A.token, 'GET', '/v1/my/pause')).json;
	expect(st.paused).toBe(true);
	const hour = st.until_ns - st.since_ns;
	expect(hour).toBe(3600 * 1e9);
	const ctl = (await api(A.device_token, 'GET', '/v1/device/control')).json;
	expect(ctl.my_pause.paused).toBe(true);
	expect(ctl.my_pause.until_ns).toBe(st.until_ns);

	// The device says it applied the paused state; the page shows it.
	await expect(page.locator('#my-devices tbody tr')).toHaveCount(1);
	await expect(page.locator('#my-devices tbody tr')).toContainText('not yet');
	const ack = await api(A.device_token, 'POST', '/v1/device/ack',
		{ state_version: ctl.state_version, paused: true, policy_version: null, recording: false });
	expect(ack.status).toBe(200);
	// The server stores acks in batches (a flush in progress can hide one for
	// a moment from GET /v1/my/pause): look again until it is there.
	await expect(async () => {
		await page.reload();
		await ready(page, 'pause');
		await expect(page.locator('#my-devices tbody tr')).toContainText('yes', { timeout: 1000 });
	}).toPass({ timeout: 15000 });
	await expect(page.locator('#my-devices tbody tr')).toContainText('paused');
	await shot(page, 'person-pause');

	await page.getByRole('button', { name: 'Resume recording' }).click();
	await expect(page.locator('#pause-state')).toContainText('not paused');
	expect((await api(A.token, 'GET', '/v1/my/pause')).json.paused).toBe(false);
	expect((await api(A.device_token, 'GET', '/v1/device/control')).json.my_pause.paused).toBe(false);
});
