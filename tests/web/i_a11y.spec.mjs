// i_a11y - the page is usable without a mouse and on a phone: every
// control has an accessible name, Tab reaches the sign-in form and shows a
// focus ring, and at 375 px wide no page scrolls sideways (wide tables
// scroll inside their own region).  Phone-sized screenshots are kept.
import { test, expect } from '@playwright/test';
import { env, signIn, ready, shot } from './lib.mjs';

async function unnamedControls(page) {
	return page.evaluate(() => [...document.querySelectorAll('input, select, textarea, button')]
		.filter((el) => {
			if (el.type === 'hidden') return false;
			const name = (el.getAttribute('aria-label') || '').trim() ||
				[...(el.labels || [])].map((l) => l.textContent).join('').trim() ||
				(el.tagName === 'BUTTON' ? el.textContent.trim() : '');
			return !name;
		}).map((el) => el.outerHTML.slice(0, 80)));
}

test('keyboard: Tab reaches the form, the focus is visible, Enter signs in', async ({ page }) => {
	await page.goto(env.url + '/');
	await ready(page, 'signin');
	await page.locator('body').focus();
	let seen = false;
	for (let i = 0; i < 6 && !seen; i++) {
		await page.keyboard.press('Tab');
		seen = await page.evaluate(() => document.activeElement && document.activeElement.id === 'secret');
	}
	expect(seen).toBe(true);
	const ring = await page.evaluate(() => getComputedStyle(document.activeElement).outlineStyle);
	expect(ring).not.toBe('none');
	await page.keyboard.type(env.alice.token);
	await page.keyboard.press('Enter');
	await expect(page.locator('#principal')).toContainText('alice');
});

const PAGES = [
	['alice', env.alice.token, ['#/days', '#/day/' + env.today, '#/audit', '#/consent', '#/pause']],
	['rita', env.rita.token, ['#/queue']],
	['admin', env.admin.token, ['#/principals', '#/devices', '#/policies', '#/assignments', '#/orgpause']],
	['audrey', env.audrey.token, ['#/verify', '#/exposure?subject=alice', '#/alerts']],
];

for (const [who, tok, routes] of PAGES) {
	test(`${who}: labelled controls, and no sideways scrolling at 375 px`, async ({ page }) => {
		await signIn(page, tok);
		await page.setViewportSize({ width: 375, height: 740 });
		for (const r of routes) {
			await page.goto(env.url + '/' + r);
			await ready(page, r.slice(2).split(/[/?]/)[0]);
			expect(await unnamedControls(page), r).toEqual([]);
			const wide = await page.evaluate(() => document.documentElement.scrollWidth);
			expect(wide, r).toBeLessThanOrEqual(375);
			if (r === routes[0]) await shot(page, 'phone-' + who);
		}
	});
}
