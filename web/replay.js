/*
 * replay.js - an episode replay shared by the person's and the reviewer's
 * views: the stored frames as the person saw them, drawn on a canvas at
 * their own pixel size, with the current action (click, drag, scroll, move)
 * drawn on a second canvas over them, the list of actions, and the typed
 * text beside with placeholders such as [PASSWORD] marked.
 *
 * Invariants: the frame canvas holds exactly the decoded stored PNG (no
 * scaling in the canvas; CSS may scale it for display unless "actual size"
 * is on); only the overlay canvas is drawn on.  Frames are fetched one at a
 * time when shown, never all at once.
 */
import { h, fmtMs, withPlaceholders, errText } from './ui.js';
import { getBlob } from './api.js';

const POINTER = new Set(['click', 'double_click', 'triple_click', 'drag', 'move', 'scroll']);

export function describe(a) {
	switch (a.action) {
	case 'click': case 'double_click': case 'triple_click':
		return a.action.replace('_', ' ') + ' button ' + a.button + ' at (' + a.x + ',' + a.y + ')';
	case 'drag':
		return 'drag from (' + a.x + ',' + a.y + ') to (' + a.end_x + ',' + a.end_y + ')';
	case 'move':
		return 'move (' + a.x + ',' + a.y + ') → (' + a.end_x + ',' + a.end_y + ')';
	case 'scroll':
		return 'scroll ' + (a.dy < 0 ? 'up' : a.dy > 0 ? 'down' : a.dx < 0 ? 'left' : 'right') +
			' ' + Math.abs(a.dy || a.dx) + ' at (' + a.x + ',' + a.y + ')';
	case 'type':
		return 'type';
	default:
		return a.action + (a.keys ? ' ' + a.keys : '') + (a.repeat ? ' (×' + (a.repeat + 1) + ')' : '');
	}
}

/* The frame to show for action i: its own, else the latest one before it, else the first. */
function frameFor(actions, frames, i) {
	for (let k = i; k >= 0; k--)
		if (actions[k].frame !== null && actions[k].frame !== undefined) return actions[k].frame;
	return frames.length ? frames[0] : null;
}

function drawArrow(g, x0, y0, x1, y1) {
	const a = Math.atan2(y1 - y0, x1 - x0);
	g.beginPath();
	g.moveTo(x1, y1);
	g.lineTo(x1 - 14 * Math.cos(a - 0.4), y1 - 14 * Math.sin(a - 0.4));
	g.moveTo(x1, y1);
	g.lineTo(x1 - 14 * Math.cos(a + 0.4), y1 - 14 * Math.sin(a + 0.4));
	g.stroke();
}

export function drawAction(g, a, scale) {
	if (!a || !POINTER.has(a.action) || a.x === null) return;
	g.save();
	const k = Math.min(4, Math.max(1, scale || 1));
	g.lineWidth = 3 * k;
	g.strokeStyle = '#e0007a';
	g.fillStyle = 'rgba(224,0,122,0.25)';
	if (a.action === 'drag' || a.action === 'move') {
		if (a.action === 'move') g.setLineDash([6, 6]);
		g.beginPath();
		g.moveTo(a.x, a.y);
		for (const p of a.path || []) g.lineTo(p[0], p[1]);
		g.lineTo(a.end_x, a.end_y);
		g.stroke();
		g.setLineDash([]);
		drawArrow(g, a.path && a.path.length ? a.path[a.path.length - 1][0] : a.x,
			a.path && a.path.length ? a.path[a.path.length - 1][1] : a.y, a.end_x, a.end_y);
	} else if (a.action === 'scroll') {
		const dir = Math.sign(a.dy || 0) || 0, dx = Math.sign(a.dx || 0);
		g.beginPath();
		g.arc(a.x, a.y, 10, 0, 2 * Math.PI);
		g.fill();
		g.stroke();
		drawArrow(g, a.x, a.y, a.x + dx * 40, a.y + dir * 40);
		g.beginPath();
		g.moveTo(a.x, a.y);
		g.lineTo(a.x + dx * 40, a.y + dir * 40);
		g.stroke();
	} else {
		const rings = a.action === 'triple_click' ? 3 : a.action === 'double_click' ? 2 : 1;
		for (let r = 0; r < rings; r++) {
			g.beginPath();
			g.arc(a.x, a.y, (12 + r * 8) * k, 0, 2 * Math.PI);
			if (r === 0) g.fill();
			g.stroke();
		}
	}
	g.restore();
}

/*
 * mountReplay(container, src) with src = { actions: [...], frames: [ids] or
 * a promise of them, frameBlob(id) -> Promise<Blob> }.  Returns { step(delta), go(i), index() } for
 * keyboard shortcuts.
 */
export function mountReplay(container, src) {
	const { actions } = src;
	/* The frame list may still be on its way: actions name their frames. */
	let frames = [], framesKnown = false;
	let cur = 0, shownFrame;
	const base = h('canvas', { id: 'frame', class: 'frame', role: 'img', 'aria-label': 'Screen as stored' });
	const over = h('canvas', { id: 'overlay', class: 'overlay', 'aria-hidden': 'true' });
	const stage = h('div', { class: 'stage' }, base, over);
	const caption = h('p', { id: 'frame-caption', class: 'muted' });
	const chkOverlay = h('input', { type: 'checkbox', id: 'show-overlay', checked: true });
	const chkActual = h('input', { type: 'checkbox', id: 'actual-size' });
	const prev = h('button', { type: 'button', id: 'prev-action' }, '← Previous (k)');
	const next = h('button', { type: 'button', id: 'next-action' }, 'Next (j) →');
	const list = h('ol', { id: 'actions', class: 'actions', 'aria-label': 'Actions' });
	const typed = h('div', { id: 'typed', class: 'typed', 'aria-label': 'Typed text' });

	actions.forEach((a, i) => {
		const b = h('button', { type: 'button', class: 'act' },
			h('span', { class: 't' }, fmtMs(a.t_ms)), ' ', h('span', { class: 'k' }, describe(a)),
			a.action === 'type' ? [' ', h('q', null, withPlaceholders(a.text || ''))] : null,
			a.app ? h('span', { class: 'app' }, ' [' + a.app + ']') : null);
		b.addEventListener('click', () => go(i));
		list.append(h('li', { dataset: { kind: a.action, tMs: String(a.t_ms), i: String(i) } }, b));
	});
	const typedActs = actions.filter((a) => a.action === 'type');
	if (typedActs.length === 0) typed.append(h('p', { class: 'muted' }, 'Nothing was typed.'));
	for (const a of typedActs)
		typed.append(h('p', { class: 'typed-line', dataset: { tMs: String(a.t_ms) } },
			h('span', { class: 't' }, fmtMs(a.t_ms)), ' ', withPlaceholders(a.text || '')));

	container.append(
		h('div', { class: 'replay' },
			h('section', { class: 'screen', 'aria-label': 'Screen' },
				h('p', { class: 'controls' }, prev, ' ', next, ' ',
					h('label', { for: 'show-overlay' }, chkOverlay, ' Show actions'), ' ',
					h('label', { for: 'actual-size' }, chkActual, ' Actual size')),
				stage, caption),
			h('section', { class: 'side', 'aria-label': 'Actions and typed text' },
				h('h3', null, 'Typed text'), typed,
				h('h3', null, 'Actions (' + actions.length + ')'), list)));

	async function showFrame(id) {
		if (id === shownFrame) return;
		shownFrame = id;
		if (id === null) {
			caption.textContent = framesKnown ? 'No stored frame for this segment.' : 'Loading the frames…';
			base.width = base.height = over.width = over.height = 0;
			return;
		}
		try {
			const blob = await src.frameBlob(id);
			if (shownFrame !== id) return;
			const bmp = await createImageBitmap(blob, { colorSpaceConversion: 'none', premultiplyAlpha: 'none' });
			base.width = over.width = bmp.width;
			base.height = over.height = bmp.height;
			const g = base.getContext('2d');
			g.drawImage(bmp, 0, 0);
			bmp.close();
			stage.dataset.frame = String(id);
			caption.textContent = 'Frame ' + id + ' (' + base.width + '×' + base.height + ')';
			drawOverlay();
		} catch (e) {
			caption.textContent = 'Could not load frame ' + id + ': ' + errText(e);
		}
	}

	function drawOverlay() {
		const g = over.getContext('2d');
		g.clearRect(0, 0, over.width, over.height);
		/* Lines stay about 3 CSS pixels wide however far the frame is scaled down. */
		const scale = over.clientWidth ? over.width / over.clientWidth : 1;
		if (chkOverlay.checked && actions[cur]) drawAction(g, actions[cur], scale);
	}

	function go(i) {
		if (!actions.length) { showFrame(frames.length ? frames[0] : null); return; }
		cur = Math.max(0, Math.min(actions.length - 1, i));
		for (const li of list.children) li.firstChild.removeAttribute('aria-current');
		const btn = list.children[cur].firstChild;
		btn.setAttribute('aria-current', 'step');
		btn.scrollIntoView({ block: 'nearest' });
		prev.disabled = cur === 0;
		next.disabled = cur === actions.length - 1;
		drawOverlay();
		showFrame(frameFor(actions, frames, cur));
	}

	prev.addEventListener('click', () => go(cur - 1));
	next.addEventListener('click', () => go(cur + 1));
	chkOverlay.addEventListener('change', drawOverlay);
	chkActual.addEventListener('change', () => stage.classList.toggle('actual', chkActual.checked));
	go(0);
	Promise.resolve(src.frames).catch(() => []).then((f) => {
		frames = f || [];
		framesKnown = true;
		if (shownFrame === null || shownFrame === undefined) {
			shownFrame = undefined;
			go(cur);
		}
	});
	return { step: (d) => go(cur + d), go, index: () => cur };
}

/* Where frames come from for a person's own segment. */
export function ownFrames(id) {
	return (f) => getBlob('/v1/my/segments/' + encodeURIComponent(id) + '/frames/' + encodeURIComponent(f));
}
