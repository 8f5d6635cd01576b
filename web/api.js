/*
 * api.js - the page's only way to the server: same-origin fetch with the
 * session cookie (the page never holds a token), the CSRF token on every
 * state change, and the purpose header the access table asks for.
 *
 * Invariants: `session` is null while signed out; `session.csrf` is the
 * value the server gave with this session and is sent with every method
 * other than GET/HEAD.  A 401 from any call means the session is gone:
 * onSignedOut() is told once and the page returns to the sign-in form.
 */

export let session = null;
let signedOutHook = null;

export function onSignedOut(fn) { signedOutHook = fn; }

export class ApiError extends Error {
	constructor(status, code, message) {
		super(message || code || ('HTTP ' + status));
		this.status = status;
		this.code = code;
	}
}

/* The purpose the access table expects for a path (docs/API.md). */
export function purposeOf(method, path) {
	if (path.startsWith('/v1/my/erase')) return 'erasure';
	if (path.startsWith('/v1/my/')) return 'self-access';
	if (path.startsWith('/v1/review/')) return 'review';
	if (path.startsWith('/v1/admin/')) return 'administration';
	if (path.startsWith('/v1/audit/')) return 'audit';
	return null;
}

async function raw(method, path, body, accept) {
	const headers = {};
	const p = purposeOf(method, path);
	if (p) headers['Usetrace-Purpose'] = p;
	if (accept) headers['Accept'] = accept;
	if (method !== 'GET' && method !== 'HEAD' && session) headers['X-CSRF-Token'] = session.csrf;
	const init = { method, credentials: 'same-origin', headers, cache: 'no-store' };
	if (body !== undefined) {
		headers['Content-Type'] = 'application/json';
		init.body = JSON.stringify(body);
	}
	const res = await fetch(path, init);
	if (!res.ok) {
		let code = null, msg = null;
		try {
			const j = await res.json();
			code = j.error || null;
			msg = j.message || j.error || null;
		} catch (e) { /* not JSON */ }
		if (res.status === 401 && session && !path.startsWith('/v1/session')) {
			session = null;
			if (signedOutHook) signedOutHook('Your session has ended; sign in again.');
		}
		throw new ApiError(res.status, code, msg);
	}
	return res;
}

export async function getJSON(path) {
	const r = await raw('GET', path, undefined, 'application/json');
	return r.json();
}

export async function send(method, path, body) {
	const r = await raw(method, path, body === undefined ? {} : body, 'application/json');
	if (r.status === 204) return null;
	const t = await r.text();
	return t ? JSON.parse(t) : null;
}

/* NDJSON (actions): one object a line. */
export async function getLines(path) {
	const r = await raw('GET', path, undefined, 'application/x-ndjson');
	const t = await r.text();
	return t.split('\n').filter((l) => l.trim() !== '').map((l) => JSON.parse(l));
}

export async function getBlob(path) {
	const r = await raw('GET', path, undefined, 'image/png');
	return r.blob();
}

export async function loadSession() {
	try {
		session = await (await raw('GET', '/v1/session', undefined, 'application/json')).json();
	} catch (e) {
		session = null;
	}
	return session;
}

/* A token (ut1_...) or a claim code (16 hex digits, a dot, a secret). */
export async function signIn(secret) {
	const s = secret.trim();
	const body = /^[0-9a-f]{16}\./.test(s) ? { claim: s } : { token: s };
	const r = await raw('POST', '/v1/session', body, 'application/json');
	session = await r.json();
	return session;
}

export async function signOut() {
	try {
		await raw('DELETE', '/v1/session', undefined, 'application/json');
	} finally {
		session = null;
	}
}
