// a_signin - the page is the embedded assets under a strict CSP; a bad
// secret is refused; a claim code signs a new person in (and cannot be
// used twice); the role decides the navigation.
import { test, expect } from '@playwright/test';
import { env, signIn, signOut, ready, shot, api } from './lib.mjs';

test('the page and its assets come with the security headers', async ({ page }) => {
	const seen = [];
	page.on('response', (r) => seen.push(r));
	const violations = [];
	page.on('console', (m) => { if (/Content.Security.Policy|Refused to/i.test(m.text())) violations.push(m.text()); });
	await page.goto(env.url + '/');
	await ready(page, 'signin');
	const mine = seen.filter((r) => r.url().startsWith(env.url));
	expect(mine.map((r) => new URL(r.url()).pathname)).toEqual(expect.arrayContaining(['/', '/web/app.js', '/web/app.css', '/v1/session']));
	for (const r of mine) {
		const hd = await r.allHeaders();
		expect(hd['content-security-policy'], r.url()).toContain("script-src 'self'");
		expect(hd['content-security-policy'], r.url()).toContain("frame-ancestors 'none'");
		expect(hd['x-content-type-options'], r.url()).toBe('nosniff');
		expect(hd['cache-control'], r.url()).toContain('no-store');
	}
	expect(violations).toEqual([]);
	// No inline script or style anywhere in the shell.
	expect(await page.locator('script:not([src])').count()).toBe(0);
	expect(await page.locator('[style]').count()).toBe(0);
	await shot(page, 'signin');
});

test('a wrong token is refused and the form stays', async ({ page }) => {
	await page.goto(env.url + '/');
	await page.getByLabel('Your token or claim code').fill('ut1_' + 'A'.repeat(43));
	await page.getByRole('button', { name: 'Sign in' }).click();
	await expect(page.locator('#status')).toContainText('not accepted');
	await expect(page.locator('#signin')).toBeVisible();
	await expect(page.locator('#nav a')).toHaveCount(0);
});

test('a claim code signs carol in once; her navigation is a subject\'s', async ({ page }) => {
	await signIn(page, env.carol.claim, 'subject');
	await ready(page, 'days');
	await expect(page.locator('#principal')).toHaveText('carol (subject)');
	await expect(page.locator('#nav a')).toHaveText(['My recordings', 'Who read my data', 'Policy and consent', 'Pause']);
	await expect(page.locator('#no-days')).toBeVisible();
	// The page never shows or keeps the token the claim became.
	expect(await page.content()).not.toMatch(/ut1_[A-Za-z0-9_-]{43}/);
	expect(await page.evaluate(() => JSON.stringify(localStorage) + JSON.stringify(sessionStorage) + document.cookie)).not.toMatch(/ut1_|ut_session/);
	await signOut(page);
	// The claim is used up.
	await page.getByLabel('Your token or claim code').fill(env.carol.claim);
	await page.getByRole('button', { name: 'Sign in' }).click();
	await expect(page.locator('#status')).toContainText('not accepted');
});

test('each role gets its own navigation', async ({ page }) => {
	const want = {
		reviewer: [env.rita.token, ['Review queue']],
		admin: [env.admin.token, ['Principals', 'Devices', 'Policies', 'Assignments', 'Organisation pause']],
		auditor: [env.audrey.token, ['Verification', 'Exposure', 'Alerts']],
	};
	for (const [role, [tok, nav]] of Object.entries(want)) {
		await signIn(page, tok, role);
		await expect(page.locator('#nav a')).toHaveText(nav);
		await signOut(page);
	}
	// Sanity: the API agrees the admin token is an admin's.
	expect((await api(env.admin.token, 'GET', '/v1/admin/principals')).status).toBe(200);
});
