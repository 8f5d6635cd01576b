/*
 * reviewer.js - a reviewer's queue and the review of one assignment: the
 * same replay as the person's (in the reviewer's pseudonymised view, frames
 * from /v1/review/{id}/frames), approve or reject with a reason, and
 * keyboard shortcuts for the common path (documented on the page):
 * a approve, r reject, j/k next/previous action, n next assignment.
 */
import { h, fmtDur, table, confirmBox, setStatus, errText } from './ui.js';
import { getJSON, getLines, getBlob, send } from './api.js';
import { mountReplay } from './replay.js';

const enc = encodeURIComponent;

export async function viewQueue(main) {
	const q = (await getJSON('/v1/review/queue')).assignments || [];
	main.append(h('h1', null, 'Review queue'));
	if (!q.length) {
		main.append(h('p', { id: 'queue-empty' }, 'Nothing is waiting for your review.'));
		return;
	}
	main.append(table('Pending assignments', ['Assignment', 'Person (pseudonym)', 'Length', 'Sensitivity', ''],
		q.map((a) => ({ attrs: { dataset: { assignment: String(a.id) } }, cells: [String(a.id), a.pseudonym,
			fmtDur(a.duration_ms / 1000), String(a.sensitivity),
			h('a', { href: '#/review/' + a.id }, 'Review')] })), { id: 'queue' }));
}

const SHORTCUTS = [['a', 'approve'], ['r', 'reject (asks for a reason)'], ['j', 'next action'],
	['k', 'previous action'], ['n', 'next assignment in the queue']];

export async function viewReview(main, id, keys) {
	const frames = getJSON('/v1/review/' + enc(id) + '/frames').then((f) => f.frames || []);
	frames.catch(() => {});
	const actions = await getLines('/v1/review/' + enc(id));
	main.append(h('h1', null, 'Review of assignment ' + id));
	const decided = h('p', { id: 'decision', role: 'status' });
	const approve = async () => {
		try {
			await send('POST', '/v1/review/' + enc(id) + '/approve', {});
			decided.textContent = 'Approved.';
			setStatus('Assignment ' + id + ' approved.', 'ok');
		} catch (e) { setStatus(errText(e), 'error'); }
	};
	const reject = async () => {
		const reason = await confirmBox('Reject assignment ' + id + '?',
			['Say why (1 to 90 characters); the reason is kept with the decision.'], 'Reject', 'Reason');
		if (!reason) return;
		try {
			await send('POST', '/v1/review/' + enc(id) + '/reject', { reason });
			decided.textContent = 'Rejected: ' + reason;
			setStatus('Assignment ' + id + ' rejected.', 'ok');
		} catch (e) { setStatus(errText(e), 'error'); }
	};
	const nextInQueue = async () => {
		const q = (await getJSON('/v1/review/queue')).assignments || [];
		const n = q.find((a) => String(a.id) !== String(id));
		location.hash = n ? '#/review/' + n.id : '#/queue';
	};
	main.append(h('p', { class: 'row' },
		h('button', { type: 'button', id: 'approve', onclick: approve }, 'Approve (a)'), ' ',
		h('button', { type: 'button', id: 'reject', class: 'danger', onclick: reject }, 'Reject… (r)'), ' ',
		h('button', { type: 'button', id: 'next-assignment', onclick: nextInQueue }, 'Next assignment (n)')),
	decided,
	h('details', { class: 'shortcuts' }, h('summary', null, 'Keyboard shortcuts'),
		h('dl', null, SHORTCUTS.map(([k, v]) => [h('dt', null, h('kbd', null, k)), h('dd', null, v)]))));
	const r = mountReplay(main, { actions, frames,
		frameBlob: (f) => getBlob('/v1/review/' + enc(id) + '/frames/' + enc(f)) });
	keys({ a: approve, r: reject, j: () => r.step(1), k: () => r.step(-1), n: nextInQueue });
}
