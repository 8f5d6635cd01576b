// c_isolation - alice's page session cannot reach bob's data: bob's
// segment id typed into the URL shows the API's denial, the same calls
// made with fetch from the page's own session answer exactly what the API
// answers alice's token, and bob's planted phrase is in no response and
// nowhere in the DOM.
import { test, expect } from '@playwright/test';
import { env, signIn, ready, shot, api } from './lib.mjs';

const A = env.alice;
const B = env.bob;

test('another person\'s segment is denied as the API denies it', async ({ page }) => {
	// The phrase is really there for bob (so its absence below means something).
	const own = await api(B.token, 'GET', `/v1/my/segments/${B.segment}/actions`);
	expect(own.status).toBe(200);
	expect(own.text).toContain(B.phrase);

	const bodies = [];
	page.on('response', async (r) => { try { bodies.push((await r.body()).toString('latin1')); } catch { /* redirect */ } });
	await signIn(page, A.token, 'subject');
	await page.goto(env.url + '/#/segment/' + B.segment);
	await expect(page.locator('#denied')).toBeVisible();
	await expect(page.locator('#denied')).toContainText('Not found');
	await shot(page, 'person-denied');

	const paths = [`/v1/my/segments/${B.segment}/actions`, `/v1/my/segments/${B.segment}/frames`,
		`/v1/my/segments/${B.segment}/frames/1`, `/v1/my/segments/${B.segment}/records`];
	for (const p of paths) {
		const viaApi = await api(A.token, 'GET', p);
		const viaPage = await page.evaluate(async (p) => {
			const r = await fetch(p, { credentials: 'same-origin', headers: { 'Usetrace-Purpose': 'self-access' } });
			return { status: r.status, text: await r.text() };
		}, p);
		expect(viaPage.status, p).toBe(viaApi.status);
		expect([403, 404], p).toContain(viaPage.status);
		expect(JSON.parse(viaPage.text).error, p).toBe(viaApi.json.error);
		bodies.push(viaPage.text);
	}
	expect(bodies.join('\n')).not.toContain(B.phrase);
	expect(await page.content()).not.toContain(B.phrase);
	// Nothing of bob's in alice's own views either.
	await page.goto(env.url + '/#/days');
	await ready(page, 'days');
	expect(await page.content()).not.toContain(B.phrase);
	expect(bodies.join('\n')).not.toContain(B.phrase);
});
