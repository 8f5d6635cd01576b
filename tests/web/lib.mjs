// lib.mjs - what the web specs share: the people run.sh made (UT_WEB_ENV),
// signing in through the page, the API called directly with a person's
// bearer token (to check what the page shows against what the API says),
// the CLI run as a person, PNG decoding, and screenshots into UT_WEB_SHOTS.
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { request as pwRequest, expect } from '@playwright/test';
import { PNG } from 'pngjs';

export const env = JSON.parse(fs.readFileSync(process.env.UT_WEB_ENV, 'utf8'));
const SHOTS = process.env.UT_WEB_SHOTS || 'web-shots';

export const PURPOSE = (p) => p.startsWith('/v1/my/erase') ? 'erasure' : p.startsWith('/v1/my/') ? 'self-access' :
	p.startsWith('/v1/review/') ? 'review' : p.startsWith('/v1/admin/') ? 'administration' :
		p.startsWith('/v1/audit/') ? 'audit' : p.startsWith('/v1/device/') ? 'ingest' : undefined;

// api(token, method, path[, body]) -> { status, json, text, body } with Bearer auth.
export async function api(token, method, p, body) {
	const ctx = await pwRequest.newContext({ ignoreHTTPSErrors: true, baseURL: env.api_url || env.url });
	try {
		const headers = { Authorization: 'Bearer ' + token };
		if (PURPOSE(p)) headers['Usetrace-Purpose'] = PURPOSE(p);
		const r = await ctx.fetch(p, { method, headers, data: body, failOnStatusCode: false });
		const buf = await r.body();
		const text = buf.toString('utf8');
		let json = null;
		try { json = JSON.parse(text); } catch { /* not JSON */ }
		return { status: r.status(), json, text, body: buf, headers: r.headers() };
	} finally {
		await ctx.dispose();
	}
}

// cli(who, ...args): the usetrace CLI as a person of env ({home, token}).
export function cli(who, ...args) {
	return execFileSync(env.usetrace, args, {
		env: { ...process.env, USETRACE_HOME: who.home, USETRACE_TOKEN: who.token, USETRACE_SERVER: env.api_url || env.url,
			USETRACE_PIN: env.pin, LC_ALL: 'C.UTF-8' },
		encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'],
	});
}

export async function signIn(page, secret, expectRole) {
	await page.goto(env.url + '/');
	await page.getByLabel('Your token or claim code').fill(secret);
	await page.getByRole('button', { name: 'Sign in' }).click();
	if (expectRole) await expect(page.locator('#principal')).toContainText('(' + expectRole + ')');
}

export async function signOut(page) {
	await page.locator('#sign-out').click();
	await expect(page.locator('#signin')).toBeVisible();
}

// ready(page, view): waits until the router finished rendering that view.
export async function ready(page, view) {
	await expect(page.locator('body')).toHaveAttribute('data-view', view);
}

export async function shot(page, name) {
	fs.mkdirSync(SHOTS, { recursive: true });
	await page.screenshot({ path: path.join(SHOTS, name + '.png') });
}

export function decodePng(buf) {
	return PNG.sync.read(buf);
}

// region(page, selector, w, h): a screenshot of w x h page pixels from the
// element's top left corner (rounded to whole pixels), decoded.
export async function region(page, selector, w, h) {
	const r = await page.locator(selector).evaluate((el) => {
		const b = el.getBoundingClientRect();
		return { x: b.left + window.scrollX, y: b.top + window.scrollY };
	});
	const buf = await page.screenshot({ fullPage: true, clip: { x: Math.round(r.x), y: Math.round(r.y), width: w, height: h } });
	return PNG.sync.read(buf);
}
