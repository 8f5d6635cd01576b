/*
 * ui.js - small DOM helpers every view shares: an element builder that only
 * ever sets text (never HTML, so nothing recorded can become markup),
 * formatting of times, sizes and durations, the status line, tables, and a
 * modal confirmation built on <dialog>.
 */

export function h(tag, attrs, ...kids) {
	const el = document.createElement(tag);
	if (attrs) {
		for (const [k, v] of Object.entries(attrs)) {
			if (v === null || v === undefined || v === false) continue;
			if (k === 'class') el.className = v;
			else if (k === 'text') el.textContent = v;
			else if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
			else if (k === 'dataset') Object.assign(el.dataset, v);
			else el.setAttribute(k, v === true ? '' : String(v));
		}
	}
	for (const k of kids.flat(Infinity)) {
		if (k === null || k === undefined || k === false) continue;
		el.append(k instanceof Node ? k : document.createTextNode(String(k)));
	}
	return el;
}

export function fmtTime(ns) {
	if (ns === null || ns === undefined || ns === 0) return '—';
	const d = new Date(Number(ns) / 1e6);
	return d.toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' UTC');
}

export function fmtDur(s) {
	s = Math.round(Number(s) || 0);
	if (s < 60) return s + ' s';
	const m = Math.floor(s / 60);
	if (m < 60) return m + ' min ' + (s % 60) + ' s';
	return Math.floor(m / 60) + ' h ' + (m % 60) + ' min';
}

export function fmtMs(ms) {
	const s = Math.floor(ms / 1000);
	return s + '.' + String(ms % 1000).padStart(3, '0') + ' s';
}

/*
 * The status line.  A message set just before a navigation (a view that
 * saves, then shows the list again) survives that one navigation:
 * clearStaleStatus() clears only messages that have already been seen.
 */
let statusFresh = false;

export function setStatus(msg, kind) {
	const st = document.getElementById('status');
	st.textContent = msg || '';
	st.className = 'status' + (kind ? ' ' + kind : '');
	statusFresh = !!msg;
}

export function clearStaleStatus() {
	if (statusFresh) statusFresh = false;
	else setStatus('');
}

export function errText(e) {
	if (e && e.status) return 'The server said ' + e.status + (e.message ? ': ' + e.message : '');
	return String(e && e.message ? e.message : e);
}

/* A table with a caption; rows are arrays of cells (strings or nodes). */
export function table(caption, heads, rows, attrs) {
	const t = h('table', attrs || null,
		h('caption', null, caption),
		h('thead', null, h('tr', null, heads.map((x) => h('th', { scope: 'col' }, x)))),
		h('tbody', null, rows.map((r) => h('tr', r.attrs || null,
			(r.cells || r).map((c) => h('td', null, c))))));
	return h('div', { class: 'scroll', tabindex: 0, role: 'region', 'aria-label': caption }, t);
}

/*
 * confirmBox(title, lines, okLabel[, inputLabel]) resolves to true (or the
 * text typed into the optional required input) when confirmed, false when
 * cancelled.  Focus moves into the dialog and back where it was.
 */
export function confirmBox(title, lines, okLabel, inputLabel) {
	return new Promise((resolve) => {
		const back = document.activeElement;
		const input = inputLabel ? h('input', { id: 'dlg-input', type: 'text', required: true, maxlength: 90 }) : null;
		const ok = h('button', { type: 'submit', class: 'danger', value: 'ok' }, okLabel);
		const cancel = h('button', { type: 'button', value: 'cancel' }, 'Cancel');
		const form = h('form', { method: 'dialog' },
			h('h2', { id: 'dlg-title' }, title),
			lines.map((l) => h('p', null, l)),
			input ? h('p', null, h('label', { for: 'dlg-input' }, inputLabel), ' ', input) : null,
			h('p', { class: 'buttons' }, ok, ' ', cancel));
		const dlg = h('dialog', { 'aria-labelledby': 'dlg-title', class: 'confirm' }, form);
		let answered = false;
		const done = (v) => {
			if (answered) return;
			answered = true;
			dlg.close();
			dlg.remove();
			if (back && back.focus) back.focus();
			resolve(v);
		};
		cancel.addEventListener('click', () => done(false));
		dlg.addEventListener('cancel', (e) => { e.preventDefault(); done(false); });
		form.addEventListener('submit', (e) => {
			e.preventDefault();
			if (input && !input.value.trim()) { input.focus(); return; }
			done(input ? input.value.trim() : true);
		});
		document.body.append(dlg);
		dlg.showModal();
		(input || cancel).focus();
	});
}

/* Marks placeholders such as [PASSWORD] in typed text so they stand out. */
export function withPlaceholders(text) {
	const out = [];
	const re = /\[[A-Z][A-Z0-9_]*\]/g;
	let last = 0, m;
	while ((m = re.exec(text)) !== null) {
		if (m.index > last) out.push(text.slice(last, m.index));
		out.push(h('mark', { class: 'ph', title: 'removed before storage' }, m[0]));
		last = m.index + m[0].length;
	}
	if (last < text.length) out.push(text.slice(last));
	return out;
}
