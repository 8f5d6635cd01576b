/*
 * admin.js - the administrator's views: principals (add, which shows the
 * one-time claim code, and revoke), devices, policies (publish pasted YAML,
 * list, diff against the previous version), assignments and the
 * organisation-wide pause.  No view here shows recorded content: the API
 * gives admins none.
 */
import { h, fmtTime, table, confirmBox, setStatus, errText } from './ui.js';
import { getJSON, send } from './api.js';

const enc = encodeURIComponent;
const ROLES = ['subject', 'reviewer', 'trainer', 'admin', 'auditor'];
const reload = () => window.dispatchEvent(new HashChangeEvent('hashchange'));

export async function viewPrincipals(main) {
	const ps = (await getJSON('/v1/admin/principals')).principals || [];
	main.append(h('h1', null, 'Principals'));
	const name = h('input', { id: 'p-name', name: 'name', required: true, pattern: '[A-Za-z0-9._@\\-]{1,63}', autocomplete: 'off' });
	const role = h('select', { id: 'p-role', name: 'role' }, ROLES.map((r) => h('option', { value: r }, r)));
	const out = h('output', { id: 'claim', for: 'p-name', class: 'secret' });
	main.append(h('form', { class: 'card row', 'aria-label': 'Add a principal', onsubmit: async (e) => {
		e.preventDefault();
		try {
			const r = await send('POST', '/v1/admin/principals', { name: name.value, role: role.value });
			out.replaceChildren('Claim code for ' + r.name + ' (give it to them; it works once, until ' +
				fmtTime(r.claim_expires_ns) + '): ', h('code', { id: 'claim-code' }, r.claim));
			const t = document.getElementById('principals-table').closest('.scroll');
			t.replaceWith(await viewPrincipalsTable());
		} catch (err) { setStatus(errText(err), 'error'); }
	} }, h('label', { for: 'p-name' }, 'Name'), ' ', name, ' ', h('label', { for: 'p-role' }, 'Role'), ' ', role, ' ',
	h('button', { type: 'submit', id: 'p-add' }, 'Add')), h('p', null, out));
	main.append(tableOf(ps));
}

function tableOf(ps) {
	return table('Principals', ['Name', 'Role', 'Created', 'Revoked', ''], ps.map((p) => ({
		attrs: { dataset: { name: p.name } },
		cells: [p.name, p.role, fmtTime(p.created_ns), p.revoked_ns ? fmtTime(p.revoked_ns) : 'no',
			p.revoked_ns ? '' : h('button', { type: 'button', class: 'danger', 'aria-label': 'Revoke ' + p.name,
				onclick: async () => {
					if (!await confirmBox('Revoke ' + p.name + '?', ['Their tokens, codes and devices stop working at once.'], 'Revoke')) return;
					try {
						await send('POST', '/v1/admin/principals/' + enc(p.name) + '/revoke', {});
						setStatus(p.name + ' revoked.', 'ok');
						reload();
					} catch (e) { setStatus(errText(e), 'error'); }
				} }, 'Revoke')],
	})), { id: 'principals-table' });
}

async function viewPrincipalsTable() {
	const ps = (await getJSON('/v1/admin/principals')).principals || [];
	return tableOf(ps);
}

export async function viewDevices(main) {
	const ds = (await getJSON('/v1/admin/devices')).devices || [];
	main.append(h('h1', null, 'Devices'));
	main.append(table('Devices', ['Id', 'Owner', 'Enrolled', 'Revoked', 'Last seen', 'Control state acknowledged'],
		ds.map((d) => ({ attrs: { dataset: { device: String(d.id) } }, cells: [String(d.id), d.owner || '', fmtTime(d.enrolled_ns),
			d.revoked_ns ? fmtTime(d.revoked_ns) : 'no', fmtTime(d.last_seen_ns), ackText(d.ack)] })),
		{ id: 'devices' }));
}

function ackText(a) {
	if (!a) return 'never';
	return 'state ' + a.state_version + ': ' + (a.paused ? 'paused' : a.recording ? 'recording' : 'not recording') +
		(a.policy_version ? ', policy ' + a.policy_version : '');
}

export async function viewPolicies(main) {
	const ps = ((await getJSON('/v1/admin/policies')).policies || []).slice().sort((a, b) => b.version - a.version);
	main.append(h('h1', null, 'Policies'));
	const yaml = h('textarea', { id: 'policy-yaml', rows: 10, cols: 60, required: true, spellcheck: 'false' });
	main.append(h('form', { class: 'card', 'aria-label': 'Publish a policy', onsubmit: async (e) => {
		e.preventDefault();
		try {
			const r = await send('POST', '/v1/admin/policies', { yaml: yaml.value });
			setStatus('Published version ' + r.version + '.', 'ok');
			reload();
		} catch (err) { setStatus(errText(err), 'error'); }
	} }, h('p', null, h('label', { for: 'policy-yaml' }, 'Policy YAML to publish as the next version')),
	yaml, h('p', null, h('button', { type: 'submit', id: 'publish' }, 'Publish'))));
	const diff = h('pre', { id: 'policy-diff', class: 'diff', tabindex: 0, 'aria-label': 'Policy diff' });
	main.append(table('Published versions', ['Version', 'SHA-256', 'Published', ''], ps.map((p) => [
		String(p.version), h('code', null, p.sha256.slice(0, 16) + '…'), fmtTime(p.published_ns),
		p.version > 1 ? h('button', { type: 'button', 'aria-label': 'Diff version ' + p.version + ' against ' + (p.version - 1),
			onclick: async () => {
				try {
					const d = await getJSON('/v1/admin/policies/' + p.version + '/diff');
					const ch = d.changes || [];
					diff.textContent = 'Version ' + d.version + ' against ' + (d.previous === 'built-in' ? 'the built-in policy' :
						'version ' + d.previous) + ':\n' + (ch.length ? ch.join('\n') : '  (nothing a person would notice changed)');
					diff.focus();
				} catch (e) { setStatus(errText(e), 'error'); }
			} }, 'Diff') : '']), { id: 'policies' }), diff);
}

export async function viewAssignments(main) {
	const as = (await getJSON('/v1/admin/assignments')).assignments || [];
	main.append(h('h1', null, 'Assignments'));
	const rev = h('input', { id: 'a-reviewer', required: true, autocomplete: 'off' });
	const seg = h('input', { id: 'a-segment', pattern: '[0-9a-f]{32}', autocomplete: 'off' });
	const share = h('input', { id: 'a-share', type: 'number', min: '0.01', max: '1', step: '0.01' });
	main.append(h('form', { class: 'card row', 'aria-label': 'Assign', onsubmit: async (e) => {
		e.preventDefault();
		const body = { reviewer: rev.value };
		if (seg.value) body.segment = seg.value; else if (share.value) body.share = Number(share.value);
		else { setStatus('Give a segment id or a share.', 'error'); return; }
		try {
			const r = await send('POST', '/v1/admin/assignments', body);
			setStatus('Made ' + (r.assignments || []).length + ' assignments.', 'ok');
			reload();
		} catch (err) { setStatus(errText(err), 'error'); }
	} }, h('label', { for: 'a-reviewer' }, 'Reviewer'), ' ', rev, ' ', h('label', { for: 'a-segment' }, 'Segment id'), ' ', seg,
	' ', h('label', { for: 'a-share' }, 'or share'), ' ', share, ' ', h('button', { type: 'submit' }, 'Assign')));
	main.append(table('Assignments', ['Id', 'Segment', 'Reviewer', 'State', 'Decided'], as.map((a) => ({
		attrs: { dataset: { assignment: String(a.id) } },
		cells: [String(a.id), h('code', null, a.segment || ''), a.reviewer, a.state,
			a.decided_ns ? fmtTime(a.decided_ns) : '—'] })), { id: 'assignments' }));
}

export async function viewOrgPause(main) {
	const r = await getJSON('/v1/admin/pause');
	main.append(h('h1', null, 'Organisation pause'));
	main.append(h('p', { id: 'org-state', class: 'card' }, r.paused ?
		'Recording is paused for everyone until ' + fmtTime(r.until_ns) + ' (' + r.acks + ' of ' + r.devices + ' devices acknowledged).' :
		'Recording is not paused (' + r.devices + ' active devices).'));
	const sel = h('select', { id: 'org-pause-for' }, h('option', { value: '900' }, '15 minutes'),
		h('option', { value: '3600' }, '1 hour'), h('option', { value: '' }, 'the server\'s maximum'));
	main.append(h('form', { class: 'row', onsubmit: async (e) => {
		e.preventDefault();
		try {
			await send('POST', '/v1/admin/pause', sel.value ? { duration_s: Number(sel.value) } : {});
			setStatus('Organisation paused.', 'ok');
			reload();
		} catch (err) { setStatus(errText(err), 'error'); }
	} }, h('label', { for: 'org-pause-for' }, 'Pause everyone for'), ' ', sel, ' ',
	h('button', { type: 'submit', id: 'org-pause' }, 'Pause organisation')),
	h('p', null, h('button', { type: 'button', id: 'org-resume', onclick: async () => {
		try {
			await send('POST', '/v1/admin/resume', {});
			setStatus('Organisation resumed.', 'ok');
			reload();
		} catch (err) { setStatus(errText(err), 'error'); }
	} }, 'Resume organisation')));
}
