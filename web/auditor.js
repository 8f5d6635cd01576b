/*
 * auditor.js - the auditor's views: the audit log's verification status,
 * exposure reports (whose data a principal read, who read a subject's
 * data) exactly as /v1/audit/exposure answers them, and the alerts
 * (canary reads and other alert entries).
 */
import { h, fmtTime, table, setStatus, errText } from './ui.js';
import { getJSON } from './api.js';

export async function viewVerify(main) {
	const r = await getJSON('/v1/audit/verify');
	main.append(h('h1', null, 'Audit log verification'));
	main.append(h('p', { id: 'verify-state', class: 'card ' + (r.ok ? 'ok' : 'bad') },
		r.ok ? 'The audit log verifies: ' + r.entries + ' entries, every hash and link checked.' :
			'The audit log does NOT verify' + (r.first_bad ? ' from entry ' + r.first_bad : '') + ' (' + r.entries + ' entries).'));
	main.append(h('pre', { class: 'diff', tabindex: 0, 'aria-label': 'Raw verification answer' }, JSON.stringify(r, null, 2)));
}

export async function viewExposure(main, params) {
	main.append(h('h1', null, 'Exposure report'));
	const kind = params.get('subject') ? 'subject' : 'principal';
	const who = h('input', { id: 'x-name', required: true, value: params.get(kind) || '', autocomplete: 'off' });
	const byP = h('input', { type: 'radio', name: 'kind', id: 'x-principal', value: 'principal', checked: kind === 'principal' });
	const byS = h('input', { type: 'radio', name: 'kind', id: 'x-subject', value: 'subject', checked: kind === 'subject' });
	main.append(h('form', { class: 'card row', 'aria-label': 'Exposure query', onsubmit: (e) => {
		e.preventDefault();
		location.hash = '#/exposure?' + (byS.checked ? 'subject=' : 'principal=') + encodeURIComponent(who.value);
	} }, h('fieldset', null, h('legend', null, 'Report'),
		h('label', { for: 'x-principal' }, byP, ' whose data a principal read'), ' ',
		h('label', { for: 'x-subject' }, byS, ' who read a subject\'s data')), ' ',
	h('label', { for: 'x-name' }, 'Name'), ' ', who, ' ', h('button', { type: 'submit', id: 'x-go' }, 'Show')));
	const name = params.get(kind);
	if (!name) return;
	try {
		const r = await getJSON('/v1/audit/exposure?' + kind + '=' + encodeURIComponent(name));
		main.append(h('p', { id: 'x-count' }, (r.reads || []).length + ' reads' + (r.truncated ? ' (truncated)' : '') + '.'));
		main.append(table('Reads', ['Seq', 'When', 'Principal', 'Role', 'Purpose', 'Action', 'Subject', 'Segment'],
			(r.reads || []).map((x) => ({ attrs: { dataset: { seq: String(x.seq) } }, cells: [String(x.seq), fmtTime(x.time_ns),
				x.principal, x.role, x.purpose, x.action, x.subject_name || x.subject || '', x.segment || ''] })),
			{ id: 'exposure' }));
	} catch (e) { setStatus(errText(e), 'error'); }
}

export async function viewAlerts(main) {
	const r = await getJSON('/v1/audit/alerts');
	main.append(h('h1', null, 'Alerts'));
	const as = r.alerts || [];
	if (!as.length) main.append(h('p', { id: 'no-alerts' }, 'No alerts.'));
	main.append(table('Alerts', ['Seq', 'When', 'Principal', 'Role', 'Action', 'Object', 'Detail'],
		as.map((x) => [String(x.seq), fmtTime(x.time_ns), x.principal, x.role, x.action, x.object || '', x.detail || '']),
		{ id: 'alerts' }));
}
