// h_csrf - the session cookie alone changes nothing: a forged POST from a
// page on another origin (a second server on another port) erases
// nothing; a POST with the cookie but without the CSRF token, or marked
// cross-site, is refused with 403 csrf; the cookie is HttpOnly, Secure,
// SameSite=Strict; after sign-out the old cookie is useless.
import http from 'node:http';
import { test, expect } from '@playwright/test';
import { env, signIn, ready, api } from './lib.mjs';

const A = env.alice;

async function evilServer(target) {
	const html = `<!DOCTYPE html><title>win a prize</title>
<form id="f" method="POST" action="${target}/v1/my/erase" enctype="text/plain">
<input name='{"all":true,"x":"' value='"}'></form>
<script>
fetch(${JSON.stringify(target)} + '/v1/my/erase', { method: 'POST', credentials: 'include', mode: 'no-cors',
  headers: { 'Content-Type': 'text/plain' }, body: JSON.stringify({ all: true }) })
  .finally(() => { document.title = 'fetched'; document.getElementById('f').submit(); });
</script>`;
	const srv = http.createServer((req, res) => { res.writeHead(200, { 'Content-Type': 'text/html' }); res.end(html); });
	await new Promise((r) => srv.listen(0, '127.0.0.1', r));
	return srv;
}

test('a forged cross-site POST erases nothing', async ({ page, context }) => {
	const before = (await api(A.token, 'GET', '/v1/my/segments')).json.segments.length;
	expect(before).toBeGreaterThan(0);
	await signIn(page, A.token, 'subject');
	await ready(page, 'days');
	const srv = await evilServer(env.url);
	try {
		const evil = await context.newPage();
		const posts = [];
		evil.on('response', (r) => { if (r.url().endsWith('/v1/my/erase')) posts.push(r.status()); });
		await evil.goto(`http://127.0.0.1:${srv.address().port}/`);
		await evil.waitForURL(/\/v1\/my\/erase$/, { timeout: 15000 }).catch(() => {});
		await expect.poll(() => posts.length).toBeGreaterThan(0);
		for (const s of posts) expect(s).toBeGreaterThanOrEqual(400);
	} finally {
		srv.close();
	}
	expect((await api(A.token, 'GET', '/v1/my/segments')).json.segments.length).toBe(before);
});

test('cookie without CSRF token, or cross-site, is refused; cookie flags', async ({ page, context }) => {
	await signIn(page, A.token, 'subject');
	await ready(page, 'days');
	const ck = (await context.cookies(env.url)).find((c) => c.name === 'ut_session');
	expect(ck).toBeTruthy();
	expect(ck.httpOnly).toBe(true);
	expect(ck.secure).toBe(true);
	expect(ck.sameSite).toBe('Strict');
	const res = await page.evaluate(async () => {
		const out = {};
		let r = await fetch('/v1/my/enroll-codes', { method: 'POST', credentials: 'same-origin',
			headers: { 'Usetrace-Purpose': 'self-access', 'Content-Type': 'application/json' }, body: '{}' });
		out.noToken = [r.status, (await r.json()).error];
		r = await fetch('/v1/my/enroll-codes', { method: 'POST', credentials: 'same-origin',
			headers: { 'Usetrace-Purpose': 'self-access', 'Content-Type': 'application/json', 'X-CSRF-Token': 'AAAA' + 'b'.repeat(40) }, body: '{}' });
		out.badToken = [r.status, (await r.json()).error];
		return out;
	});
	expect(res.noToken).toEqual([403, 'csrf']);
	expect(res.badToken).toEqual([403, 'csrf']);
	// The right token but marked cross-site (as a browser marks a forged request).
	const sess = await page.evaluate(async () => (await fetch('/v1/session', { credentials: 'same-origin' })).json());
	const cross = await page.request.post(env.url + '/v1/my/enroll-codes', { headers: { 'Usetrace-Purpose': 'self-access',
		'X-CSRF-Token': sess.csrf, 'Sec-Fetch-Site': 'cross-site' }, data: {}, failOnStatusCode: false });
	expect(cross.status()).toBe(403);
	expect((await cross.json()).error).toBe('csrf');
	// And the same request same-site with the token works (so the refusals above are about CSRF).
	const ok = await page.request.post(env.url + '/v1/my/enroll-codes', { headers: { 'Usetrace-Purpose': 'self-access',
		'X-CSRF-Token': sess.csrf }, data: {}, failOnStatusCode: false });
	expect(ok.status()).toBe(201);
	expect((await ok.json()).code).toMatch(/^[0-9a-f]{16}\./);
});

test('a signed-out cookie is useless', async ({ page, context }) => {
	await signIn(page, A.token, 'subject');
	await ready(page, 'days');
	const ck = (await context.cookies(env.url)).find((c) => c.name === 'ut_session');
	await page.locator('#sign-out').click();
	await expect(page.locator('#signin')).toBeVisible();
	// Put the old value back by hand: the server has forgotten it.
	await context.addCookies([{ ...ck }]);
	const r = await page.request.get(env.url + '/v1/my/segments', { headers: { 'Usetrace-Purpose': 'self-access' }, failOnStatusCode: false });
	expect(r.status()).toBe(401);
	const s = await page.request.get(env.url + '/v1/session', { failOnStatusCode: false });
	expect(s.status()).toBe(401);
	await page.goto(env.url + '/#/days');
	await ready(page, 'signin');
});

test('when the session ends on the server, the page asks to sign in again', async ({ page }) => {
	await signIn(page, A.token, 'subject');
	await ready(page, 'days');
	// End the session behind the page's back (as the idle timeout does).
	const st = await page.evaluate(async () => {
		const s = await (await fetch('/v1/session', { credentials: 'same-origin' })).json();
		const r = await fetch('/v1/session', { method: 'DELETE', credentials: 'same-origin', headers: { 'X-CSRF-Token': s.csrf } });
		return r.status;
	});
	expect(st).toBe(204);
	await page.getByRole('link', { name: 'Who read my data' }).click();
	await ready(page, 'signin');
	await expect(page.locator('main')).toContainText('Your session has ended');
	await expect(page.locator('#nav a')).toHaveCount(0);
	await expect(page.locator('#audit')).toHaveCount(0);
});
