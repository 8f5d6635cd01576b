/*
 * person.js - the recorded person's own views: the days timeline (apps,
 * active time, what was removed), one day's segments, a segment's replay,
 * who read my data, the policy notice and my consent, pause/resume of my
 * agents, and erasure of a day or of everything (after a confirmation that
 * says how many segments and frames will be destroyed).
 */
import { h, fmtTime, fmtDur, table, confirmBox, setStatus, errText } from './ui.js';
import { getJSON, getLines, send } from './api.js';
import { mountReplay, ownFrames } from './replay.js';

const enc = encodeURIComponent;

async function days() {
	return (await getJSON('/v1/my/days')).days || [];
}

function sumRedactions(r) {
	return Object.values(r || {}).reduce((a, b) => a + Number(b), 0);
}

function redactionList(r) {
	const ks = Object.keys(r || {}).filter((k) => Number(r[k]) > 0).sort();
	if (!ks.length) return null;
	return ['(', h('ul', { class: 'inline', 'aria-label': 'Redactions by type' },
		ks.map((k) => h('li', { dataset: { type: k } }, h('code', null, k), ' ' + r[k]))), ')'];
}

export async function viewDays(main) {
	const ds = await days();
	main.append(h('h1', null, 'My recordings'));
	if (!ds.length) {
		main.append(h('p', { id: 'no-days' }, 'Nothing recorded about you is stored.'));
		return;
	}
	const ol = h('ol', { class: 'days', id: 'days' });
	for (const d of ds) {
		const maxApp = Math.max(1, ...d.apps.map((a) => a.active_s));
		ol.append(h('li', { class: 'day card', dataset: { day: d.day } },
			h('h2', null, h('a', { href: '#/day/' + d.day }, d.day)),
			h('p', null, fmtDur(d.active_s) + ' active · ' + d.segments.length + ' segment' +
				(d.segments.length === 1 ? '' : 's') + ' · ' + d.actions + ' actions · ' + d.frames + ' frames'),
			h('ul', { class: 'apps', 'aria-label': 'Applications on ' + d.day }, d.apps.map((a) =>
				h('li', null, h('span', { class: 'app-name' }, a.app || '(unknown)'), ' ',
					h('span', { class: 'bar', dataset: { w: String(Math.round(100 * a.active_s / maxApp)) } }),
					' ' + fmtDur(a.active_s)))),
			h('p', { class: 'removed' }, 'Removed before storage: ' + sumRedactions(d.redactions) + ' redactions ',
				redactionList(d.redactions), ' · ' + d.blacked_frames + ' frames with blacked-out windows')));
	}
	main.append(ol);
	/* Bar widths from data attributes: CSP forbids inline style attributes in markup. */
	for (const b of ol.querySelectorAll('.bar')) b.style.width = b.dataset.w + '%';
	const total = ds.reduce((n, d) => n + d.segments.length, 0);
	const frames = ds.reduce((n, d) => n + d.frames, 0);
	main.append(h('section', { class: 'danger-zone', 'aria-label': 'Erase everything' },
		h('h2', null, 'Erase everything'),
		h('p', null, 'Destroys every recording the server holds about you and withdraws your consent.'),
		h('button', { type: 'button', id: 'erase-all', class: 'danger', onclick: async () => {
			const ok = await confirmBox('Erase everything?', [
				'This destroys all ' + total + ' segments and ' + frames + ' frames recorded on ' + ds.length +
				' days, and withdraws your consent; your agents stop recording.',
				'It cannot be undone.'], 'Erase everything');
			if (!ok) return;
			try {
				const r = await send('POST', '/v1/my/erase', { all: true });
				setStatus('Erased everything: ' + r.segments + ' segments.', 'ok');
				location.hash = '#/days';
				window.dispatchEvent(new HashChangeEvent('hashchange'));
			} catch (e) { setStatus(errText(e), 'error'); }
		} }, 'Erase everything…')));
}

export async function viewDay(main, day) {
	const [ds, segs] = await Promise.all([days(), getJSON('/v1/my/segments')]);
	const d = ds.find((x) => x.day === day);
	const mine = (segs.segments || []).filter((s) => s.day === day).sort((a, b) => a.start_ns - b.start_ns);
	main.append(h('p', null, h('a', { href: '#/days' }, '← All days')), h('h1', null, 'Recordings of ' + day));
	if (!d && !mine.length) {
		main.append(h('p', { id: 'no-day' }, 'Nothing is stored for this day.'));
		return;
	}
	main.append(table('Segments of ' + day, ['Start', 'Length', 'Applications', 'Actions', 'Frames', 'Redactions', ''],
		mine.map((s) => ({
			attrs: { dataset: { segment: s.id } },
			cells: [fmtTime(s.start_ns), fmtDur((s.end_ns - s.start_ns) / 1e9),
				(s.summary && s.summary.apps || []).join(', '),
				String(s.summary ? s.summary.actions : ''), String(s.summary ? s.summary.frames : ''),
				String(s.summary ? s.summary.redactions : ''),
				h('a', { href: '#/segment/' + s.id, 'aria-label': 'Replay segment starting ' + fmtTime(s.start_ns) }, 'Replay')],
		})), { id: 'segments' }));
	const nseg = mine.length;
	const nfr = mine.reduce((n, s) => n + (s.summary ? s.summary.frames : 0), 0);
	main.append(h('section', { class: 'danger-zone', 'aria-label': 'Erase this day' },
		h('h2', null, 'Erase this day'),
		h('button', { type: 'button', id: 'erase-day', class: 'danger', onclick: async () => {
			const ok = await confirmBox('Erase ' + day + '?', [
				'This destroys ' + nseg + ' segment' + (nseg === 1 ? '' : 's') + ' and ' + nfr +
				' frame' + (nfr === 1 ? '' : 's') + ' recorded on ' + day + '. The day\'s key is destroyed first.',
				'It cannot be undone.'], 'Erase ' + day);
			if (!ok) return;
			try {
				const r = await send('POST', '/v1/my/erase', { day });
				setStatus('Erased ' + day + ': ' + r.segments + ' segments.', 'ok');
				location.hash = '#/days';
			} catch (e) { setStatus(errText(e), 'error'); }
		} }, 'Erase ' + day + '…')));
}

export async function viewSegment(main, id) {
	/* The frame list is slow to make (the server decodes the segment): the first
	 * frame is asked for as soon as the actions name it, not after the list. */
	const frames = getJSON('/v1/my/segments/' + enc(id) + '/frames').then((f) => f.frames || []);
	frames.catch(() => {});
	const actions = await getLines('/v1/my/segments/' + enc(id) + '/actions');
	main.append(h('h1', null, 'Replay of segment ', h('code', null, id)));
	return mountReplay(main, { actions, frames, frameBlob: ownFrames(id) });
}

export async function viewAudit(main) {
	const r = await getJSON('/v1/my/audit');
	const es = (r.entries || []).slice().reverse();
	main.append(h('h1', null, 'Who read my data'),
		h('p', null, 'Every read, change or refused attempt on your data, from the tamper-evident audit log.'));
	main.append(table('Audit entries', ['When', 'Who', 'Role', 'Purpose', 'What', 'Object', 'Outcome'],
		es.map((e) => [fmtTime(e.time_ns), e.principal, e.role, e.purpose, e.action, e.object || '', e.outcome]),
		{ id: 'audit' }));
}

export async function viewConsent(main) {
	const r = await getJSON('/v1/my/consent');
	main.append(h('h1', null, 'Policy and consent'));
	const p = r.policy || {};
	main.append(h('section', { class: 'card', 'aria-label': 'Current policy' },
		h('h2', null, p.built_in || p.version === null ? 'The built-in policy (none published)' : 'Policy version ' + p.version),
		p.collect ? h('p', { id: 'collect' }, 'Collected: ', Array.isArray(p.collect) ? p.collect.join(', ') : String(p.collect)) : null,
		p.notice ? h('pre', { id: 'notice', class: 'notice', tabindex: 0, 'aria-label': 'Notice' }, p.notice) : null));
	main.append(table('My consents', ['Device', 'Policy', 'Given', 'Withdrawn', 'State'],
		(r.consents || []).map((c) => [String(c.device ?? ''),
			c.policy_version !== null && c.policy_version !== undefined ? 'version ' + c.policy_version : 'built-in / ' + String(c.policy_hash || '').slice(0, 12),
			fmtTime(c.given_ns), c.withdrawn_ns ? fmtTime(c.withdrawn_ns) : '—', c.state || '']), { id: 'consents' }));
}

export async function viewPause(main) {
	const r = await getJSON('/v1/my/pause');
	main.append(h('h1', null, 'Pause my recording'));
	main.append(h('p', { id: 'pause-state', class: 'card' }, r.paused ?
		'Paused until ' + fmtTime(r.until_ns) + '.' : 'Recording is not paused.'));
	const devs = Array.isArray(r.devices) ? r.devices : [];
	main.append(table('My devices', ['Device', 'Has applied the current state', 'Last report'], devs.map((d) => ({
		attrs: { dataset: { device: String(d.id) } },
		cells: [String(d.id), d.acknowledged ? 'yes' : 'not yet',
			d.acked_ns ? (d.paused ? 'paused' : d.recording ? 'recording' : 'not recording') + ', ' + fmtTime(d.acked_ns) : 'none'] })),
	{ id: 'my-devices' }));
	const sel = h('select', { id: 'pause-for' },
		h('option', { value: '900' }, '15 minutes'), h('option', { value: '3600' }, '1 hour'),
		h('option', { value: '14400' }, '4 hours'), h('option', { value: '' }, 'until I resume'));
	main.append(h('form', { class: 'row', onsubmit: async (e) => {
		e.preventDefault();
		try {
			await send('POST', '/v1/my/pause', sel.value ? { duration_s: Number(sel.value) } : {});
			setStatus('Your agents are told to pause.', 'ok');
			window.dispatchEvent(new HashChangeEvent('hashchange'));
		} catch (err) { setStatus(errText(err), 'error'); }
	} }, h('label', { for: 'pause-for' }, 'Pause for'), ' ', sel, ' ',
	h('button', { type: 'submit', id: 'pause' }, 'Pause')));
	main.append(h('p', null, h('button', { type: 'button', id: 'resume', onclick: async () => {
		try {
			await send('POST', '/v1/my/resume', {});
			setStatus('Your agents are told to resume.', 'ok');
			window.dispatchEvent(new HashChangeEvent('hashchange'));
		} catch (err) { setStatus(errText(err), 'error'); }
	} }, 'Resume recording')));
}
