/*
 * app.js - the page's entry point: the sign-in form (a token or a claim
 * code makes a server-side session; the page never keeps the secret), the
 * role's navigation, the hash router, sign-out, and page-wide keyboard
 * shortcuts (a view registers its own; they never fire while typing in a
 * field or with a modifier held).
 *
 * Routes (the role decides which exist):
 *   subject:  #/days  #/day/DAY  #/segment/ID  #/audit  #/consent  #/pause
 *   reviewer: #/queue #/review/ID
 *   admin:    #/principals #/devices #/policies #/assignments #/orgpause
 *   auditor:  #/verify #/exposure?principal=P|subject=S  #/alerts
 */
import { h, setStatus, clearStaleStatus, errText } from './ui.js';
import { session, loadSession, signIn, signOut, onSignedOut } from './api.js';
import * as person from './person.js';
import * as reviewer from './reviewer.js';
import * as admin from './admin.js';
import * as auditor from './auditor.js';

const NAV = {
	subject: [['#/days', 'My recordings'], ['#/audit', 'Who read my data'], ['#/consent', 'Policy and consent'], ['#/pause', 'Pause']],
	reviewer: [['#/queue', 'Review queue']],
	admin: [['#/principals', 'Principals'], ['#/devices', 'Devices'], ['#/policies', 'Policies'],
		['#/assignments', 'Assignments'], ['#/orgpause', 'Organisation pause']],
	auditor: [['#/verify', 'Verification'], ['#/exposure', 'Exposure'], ['#/alerts', 'Alerts']],
	trainer: [],
};

let keymap = {};
let rendering = 0;

function setKeys(m) { keymap = m || {}; }

document.addEventListener('keydown', (e) => {
	if (e.ctrlKey || e.metaKey || e.altKey || e.defaultPrevented) return;
	const t = e.target;
	if (t && (t.closest('input, textarea, select, dialog') || t.isContentEditable)) return;
	const f = keymap[e.key];
	if (f) { e.preventDefault(); f(); }
});

function renderChrome() {
	const nav = document.getElementById('nav');
	const who = document.getElementById('who');
	nav.replaceChildren();
	who.replaceChildren();
	if (!session) return;
	const here = location.hash.split('?')[0];
	nav.append(h('ul', null, (NAV[session.role] || []).map(([href, label]) =>
		h('li', null, h('a', { href, 'aria-current': here.startsWith(href) ? 'page' : null }, label)))));
	who.append(h('span', { id: 'principal' }, session.principal + ' (' + session.role + ')'), ' ',
		h('button', { type: 'button', id: 'sign-out', onclick: async () => {
			try { await signOut(); } catch (e) { /* gone already */ }
			showSignIn('You have signed out.');
		} }, 'Sign out'));
}

function viewSignIn(main, msg) {
	const input = h('input', { id: 'secret', name: 'secret', type: 'password', required: true, autocomplete: 'off', spellcheck: 'false' });
	main.append(h('h1', null, 'Sign in to usetrace'),
		msg ? h('p', { class: 'note' }, msg) : null,
		h('form', { id: 'signin', class: 'card', onsubmit: async (e) => {
			e.preventDefault();
			try {
				await signIn(input.value);
				input.value = '';
				setStatus('');
				const home = (NAV[session.role] && NAV[session.role][0]) ? NAV[session.role][0][0] : '#/';
				go(location.hash && location.hash !== '#/signin' ? location.hash : home);
			} catch (err) {
				setStatus(err.status === 401 || err.status === 404 || err.status === 409 ?
					'That token or claim code was not accepted.' : errText(err), 'error');
				input.focus();
			}
		} }, h('p', null, h('label', { for: 'secret' }, 'Your token or claim code')), h('p', null, input),
		h('p', null, h('button', { type: 'submit' }, 'Sign in'))),
		h('p', { class: 'muted' }, 'A claim code is turned into your own token, which stays on the server for this session only. ' +
			'The session ends after a while without use, or when you sign out.'));
	input.focus();
}

async function route(main, path, params) {
	const role = session.role;
	const seg = path.split('/').filter(Boolean);
	const first = seg[0] || '';
	if (role === 'subject') {
		if (first === 'day' && seg[1]) return person.viewDay(main, seg[1]);
		if (first === 'segment' && seg[1]) {
			const r = await person.viewSegment(main, seg[1]);
			setKeys({ j: () => r.step(1), k: () => r.step(-1), ArrowRight: () => r.step(1), ArrowLeft: () => r.step(-1) });
			return;
		}
		if (first === 'audit') return person.viewAudit(main);
		if (first === 'consent') return person.viewConsent(main);
		if (first === 'pause') return person.viewPause(main);
		return person.viewDays(main);
	}
	if (role === 'reviewer') {
		if (first === 'review' && seg[1]) return reviewer.viewReview(main, seg[1], setKeys);
		return reviewer.viewQueue(main);
	}
	if (role === 'admin') {
		const v = { devices: admin.viewDevices, policies: admin.viewPolicies, assignments: admin.viewAssignments,
			orgpause: admin.viewOrgPause }[first] || admin.viewPrincipals;
		return v(main);
	}
	if (role === 'auditor') {
		if (first === 'exposure') return auditor.viewExposure(main, params);
		if (first === 'alerts') return auditor.viewAlerts(main);
		return auditor.viewVerify(main);
	}
	main.append(h('h1', null, 'Nothing here for your role'),
		h('p', null, 'The web page has views for people recorded, reviewers, administrators and auditors.'));
}

async function render(msg) {
	const my = ++rendering;
	const main = document.getElementById('main');
	const [path, query] = location.hash.replace(/^#/, '').split('?');
	setKeys(null);
	const fresh = h('div', { class: 'view' });
	main.replaceChildren(fresh);
	document.body.dataset.view = 'loading';
	renderChrome();
	if (!session) {
		viewSignIn(fresh, msg);
		document.body.dataset.view = 'signin';
		return;
	}
	try {
		await route(fresh, path || '/', new URLSearchParams(query || ''));
	} catch (e) {
		if (my !== rendering) return;
		if (!session) return;
		fresh.append(h('h1', null, 'Not available'),
			h('p', { id: 'denied', class: 'note' }, e.status === 404 ? 'Not found (or not yours to see).' :
				e.status === 403 ? 'You may not see this.' : errText(e)));
	}
	if (my !== rendering) return;
	const h1 = fresh.querySelector('h1');
	document.title = (h1 ? h1.textContent + ' — ' : '') + 'usetrace';
	document.body.dataset.view = (path || '/').split('/')[1] || 'home';
}

/* Shows the view of hash: a hash change renders it, an unchanged one is rendered here. */
function go(hash, msg) {
	if (location.hash === hash) render(msg);
	else location.hash = hash;
}

function showSignIn(msg) {
	if (location.hash !== '#/signin') history.replaceState(null, '', '#/signin');
	render(msg);
}

onSignedOut(showSignIn);
window.addEventListener('hashchange', () => { clearStaleStatus(); render(); });

(async () => {
	await loadSession();
	render();
})();
