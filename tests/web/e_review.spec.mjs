// e_review - rita reviews through the page with the keyboard: the queue
// shows her two assignments, "a" approves the first, "r" rejects the
// second with a reason; the API (her queue, the admin's assignments) shows
// both decisions.  The replay works from /v1/review/{id}.
import { test, expect } from '@playwright/test';
import { env, signIn, ready, shot, api } from './lib.mjs';

const R = env.rita;

test('approve with "a", reject with "r" and a reason', async ({ page }) => {
	const [id1, id2] = R.assignments;
	await signIn(page, R.token, 'reviewer');
	await ready(page, 'queue');
	await expect(page.locator('#queue tbody tr')).toHaveCount(2);
	await shot(page, 'reviewer-queue');

	await page.goto(env.url + '/#/review/' + id1);
	await ready(page, 'review');
	const acts = (await api(R.token, 'GET', '/v1/review/' + id1)).text.split('\n').filter(Boolean);
	await expect(page.locator('#actions > li')).toHaveCount(acts.length);
	await expect(page.locator('.shortcuts')).toContainText('approve');
	await page.keyboard.press('j');
	await expect(page.locator('#actions > li').nth(1).locator('button')).toHaveAttribute('aria-current', 'step');
	await page.keyboard.press('k');
	await expect(page.locator('#actions > li').nth(0).locator('button')).toHaveAttribute('aria-current', 'step');
	await expect(page.locator('.stage')).toHaveAttribute('data-frame', /^\d+$/);
	await shot(page, 'reviewer-review');
	await page.keyboard.press('a');
	await expect(page.locator('#decision')).toHaveText('Approved.');

	await page.goto(env.url + '/#/review/' + id2);
	await ready(page, 'review');
	await page.keyboard.press('r');
	await page.getByLabel('Reason').fill('shows a customer record');
	await page.getByRole('button', { name: 'Reject', exact: true }).click();
	await expect(page.locator('#decision')).toContainText('Rejected');

	const q = (await api(R.token, 'GET', '/v1/review/queue')).json.assignments;
	expect(q.map((a) => a.id)).not.toContain(id1);
	expect(q.map((a) => a.id)).not.toContain(id2);
	const all = await api(env.admin.token, 'GET', '/v1/admin/assignments');
	expect(all.status).toBe(200);
	const st = Object.fromEntries(all.json.assignments.map((a) => [a.id, a.state]));
	expect(st[id1]).toMatch(/approved/);
	expect(st[id2]).toMatch(/rejected/);
	// Deciding again is refused by the API (409): the page's decisions stuck.
	expect((await api(R.token, 'POST', `/v1/review/${id1}/approve`, {})).status).toBe(409);
	expect((await api(R.token, 'POST', `/v1/review/${id2}/reject`, { reason: 'x' })).status).toBe(409);
});
