/*
 * event.c - compact binary encoding of records (docs/FORMAT.md, "Records").
 *
 * Each record: u8 type, varint seq delta, svarint mono delta, svarint wall
 * correction (wall - (prev wall + mono delta)), svarint xtime delta, u8
 * sensitivity, then the type's payload.  Pointer coordinates are deltas
 * against the last pointer position of the batch.  Strings are varint
 * length + bytes and are bounded by the struct field sizes on decode.
 */
#include <stdio.h>
#include <string.h>

#include <xkbcommon/xkbcommon.h>

#include "usetrace/err.h"
#include "usetrace/event.h"
#include "usetrace/util.h"

static const char *type_names[] = {
	[UT_EV_SESSION] = "session", [UT_EV_KEY] = "key",
	[UT_EV_TEXT] = "text", [UT_EV_BUTTON] = "button",
	[UT_EV_MOTION] = "motion", [UT_EV_SCROLL] = "scroll",
	[UT_EV_FOCUS] = "focus", [UT_EV_FRAME] = "frame",
	[UT_EV_PAUSE] = "pause", [UT_EV_RESUME] = "resume",
	[UT_EV_REDACTED] = "redacted", [UT_EV_MARK] = "mark",
	[UT_EV_MONITORS] = "monitors", [UT_EV_END] = "end",
	[UT_EV_TARGET] = "target",
};

const char *
event_type_name(unsigned type)
{
	if (type == 0 || type > UT_EV_TYPE_MAX || type_names[type] == NULL)
		return "unknown";
	return type_names[type];
}

void
event_redacted(struct ut_event *out, const struct ut_event *at,
    const char *what, const char *why, uint32_t count, uint8_t level)
{
	memset(out, 0, sizeof(*out));
	if (at != NULL) {
		out->seq = at->seq;
		out->mono_ns = at->mono_ns;
		out->wall_ns = at->wall_ns;
		out->xtime = at->xtime;
	}
	out->type = UT_EV_REDACTED;
	out->sensitivity = level;
	snprintf(out->u.redacted.what, sizeof(out->u.redacted.what), "%s", what);
	snprintf(out->u.redacted.why, sizeof(out->u.redacted.why), "%s", why);
	out->u.redacted.count = count;
}

void
event_codec_init(struct event_codec *c)
{
	memset(c, 0, sizeof(*c));
}

#define PUT(expr)                        \
	do {                             \
		if ((r = (expr)) < 0)    \
			goto fail;       \
	} while (0)

int
event_encode(struct event_codec *c, const struct ut_event *ev, struct buf *out)
{
	size_t save = out->len;
	int64_t mono_d;
	int32_t px = c->px, py = c->py;
	uint32_t i;
	int r;

	if (ev->type == 0 || ev->type > UT_EV_TYPE_MAX)
		return UT_EINVAL;
	mono_d = (int64_t)(ev->mono_ns - c->mono_ns);
	PUT(buf_put_u8(out, ev->type));
	PUT(buf_put_varint(out, ev->seq - c->seq));
	PUT(buf_put_svarint(out, mono_d));
	PUT(buf_put_svarint(out, ev->wall_ns - (c->wall_ns + mono_d)));
	PUT(buf_put_svarint(out, (int64_t)ev->xtime - (int64_t)c->xtime));
	PUT(buf_put_u8(out, ev->sensitivity));

	switch (ev->type) {
	case UT_EV_SESSION:
		PUT(buf_put_str(out, ev->u.session.display));
		PUT(buf_put_varint(out, ev->u.session.screen_w));
		PUT(buf_put_varint(out, ev->u.session.screen_h));
		PUT(buf_put_varint(out, ev->u.session.double_click_ms));
		PUT(buf_put_varint(out, ev->u.session.double_click_px));
		PUT(buf_put_str(out, ev->u.session.layout));
		PUT(buf_put_str(out, ev->u.session.host_tag));
		break;
	case UT_EV_KEY:
		PUT(buf_put_varint(out, ev->u.key.keycode));
		PUT(buf_put_u8(out, (uint8_t)((ev->u.key.down ? 1 : 0) |
		    (ev->u.key.repeat ? 2 : 0))));
		PUT(buf_put_varint(out, ev->u.key.state));
		PUT(buf_put_varint(out, ev->u.key.group));
		PUT(buf_put_varint(out, ev->u.key.keysym));
		PUT(buf_put_str(out, ev->u.key.text));
		break;
	case UT_EV_BUTTON:
		PUT(buf_put_u8(out, ev->u.button.button));
		PUT(buf_put_u8(out, ev->u.button.down));
		PUT(buf_put_svarint(out, (int64_t)ev->u.button.x - px));
		PUT(buf_put_svarint(out, (int64_t)ev->u.button.y - py));
		PUT(buf_put_varint(out, ev->u.button.state));
		px = ev->u.button.x;
		py = ev->u.button.y;
		break;
	case UT_EV_MOTION:
		PUT(buf_put_svarint(out, (int64_t)ev->u.motion.x - px));
		PUT(buf_put_svarint(out, (int64_t)ev->u.motion.y - py));
		px = ev->u.motion.x;
		py = ev->u.motion.y;
		break;
	case UT_EV_SCROLL:
		PUT(buf_put_svarint(out, ev->u.scroll.dx));
		PUT(buf_put_svarint(out, ev->u.scroll.dy));
		PUT(buf_put_svarint(out, (int64_t)ev->u.scroll.x - px));
		PUT(buf_put_svarint(out, (int64_t)ev->u.scroll.y - py));
		px = ev->u.scroll.x;
		py = ev->u.scroll.y;
		break;
	case UT_EV_FOCUS:
		PUT(buf_put_varint(out, ev->u.focus.window));
		PUT(buf_put_varint(out, ev->u.focus.pid));
		PUT(buf_put_svarint(out, ev->u.focus.x));
		PUT(buf_put_svarint(out, ev->u.focus.y));
		PUT(buf_put_varint(out, ev->u.focus.w));
		PUT(buf_put_varint(out, ev->u.focus.h));
		PUT(buf_put_u8(out, ev->u.focus.denied));
		PUT(buf_put_str(out, ev->u.focus.app));
		PUT(buf_put_str(out, ev->u.focus.instance));
		PUT(buf_put_str(out, ev->u.focus.title));
		break;
	case UT_EV_MONITORS:
		if (ev->u.monitors.n > UT_EV_MONITORS_MAX) {
			r = UT_EINVAL;
			goto fail;
		}
		PUT(buf_put_varint(out, ev->u.monitors.n));
		for (i = 0; i < ev->u.monitors.n; i++) {
			const struct ut_monitor *m = &ev->u.monitors.m[i];

			PUT(buf_put_svarint(out, m->x));
			PUT(buf_put_svarint(out, m->y));
			PUT(buf_put_varint(out, m->w));
			PUT(buf_put_varint(out, m->h));
			PUT(buf_put_u8(out, m->primary ? 1 : 0));
			PUT(buf_put_str(out, m->name));
		}
		break;
	case UT_EV_PAUSE:
	case UT_EV_RESUME:
		PUT(buf_put_varint(out, ev->u.pause.until_wall_ns));
		PUT(buf_put_str(out, ev->u.pause.reason));
		break;
	case UT_EV_REDACTED:
		PUT(buf_put_str(out, ev->u.redacted.what));
		PUT(buf_put_str(out, ev->u.redacted.why));
		PUT(buf_put_varint(out, ev->u.redacted.count));
		break;
	case UT_EV_MARK:
	case UT_EV_END:
		PUT(buf_put_str(out, ev->u.mark.text));
		break;
	case UT_EV_TARGET:
		if (ev->u.target.action_seq > ev->seq) {
			r = UT_EINVAL;
			goto fail;
		}
		PUT(buf_put_varint(out, ev->seq - ev->u.target.action_seq));
		PUT(buf_put_svarint(out, ev->u.target.x));
		PUT(buf_put_svarint(out, ev->u.target.y));
		PUT(buf_put_varint(out, ev->u.target.w));
		PUT(buf_put_varint(out, ev->u.target.h));
		PUT(buf_put_str(out, ev->u.target.role));
		PUT(buf_put_str(out, ev->u.target.name));
		PUT(buf_put_str(out, ev->u.target.path));
		break;
	case UT_EV_FRAME:
		if (ev->u.frame.len > UT_FRAME_DATA_MAX ||
		    (ev->u.frame.len > 0 && ev->u.frame.data == NULL)) {
			r = UT_EINVAL;
			goto fail;
		}
		PUT(buf_put_varint(out, ev->u.frame.frame_id));
		PUT(buf_put_varint(out, ev->u.frame.base_id));
		PUT(buf_put_varint(out, ev->u.frame.w));
		PUT(buf_put_varint(out, ev->u.frame.h));
		PUT(buf_put_varint(out, ev->u.frame.xtime_done));
		PUT(buf_put_svarint(out, ev->u.frame.rx));
		PUT(buf_put_svarint(out, ev->u.frame.ry));
		PUT(buf_put_varint(out, ev->u.frame.rw));
		PUT(buf_put_varint(out, ev->u.frame.rh));
		PUT(buf_put_varint(out, ev->u.frame.part));
		PUT(buf_put_varint(out, ev->u.frame.nparts));
		PUT(buf_put_u8(out, ev->u.frame.format));
		PUT(buf_put_varint(out, ev->u.frame.skipped));
		PUT(buf_put_bytes(out, ev->u.frame.data, ev->u.frame.len));
		break;
	case UT_EV_TEXT:
	default:
		break;
	}
	c->seq = ev->seq;
	c->mono_ns = ev->mono_ns;
	c->wall_ns = ev->wall_ns;
	c->xtime = ev->xtime;
	c->px = px;
	c->py = py;
	return 0;
fail:
	out->len = save;
	return r;
}
#undef PUT

#define GET(expr)                        \
	do {                             \
		if ((r = (expr)) < 0)    \
			return r;        \
	} while (0)

/* Reads a varint that must fit in 32 bits. */
static int
get_u32v(struct bufrd *rd, uint32_t *v)
{
	uint64_t t;
	int r;

	GET(bufrd_get_varint(rd, &t));
	if (t > UINT32_MAX)
		return UT_ECORRUPT;
	*v = (uint32_t)t;
	return 0;
}

static int
get_s32v(struct bufrd *rd, int64_t base, int32_t *v)
{
	int64_t t;
	int r;

	GET(bufrd_get_svarint(rd, &t));
	if (t > INT32_MAX || t < INT32_MIN)
		return UT_ECORRUPT;
	t += base;
	if (t > INT32_MAX || t < INT32_MIN)
		return UT_ECORRUPT;
	*v = (int32_t)t;
	return 0;
}

static int
decode(struct event_codec *c, struct bufrd *rd, struct ut_event *ev)
{
	uint64_t u;
	int64_t s, mono_d;
	uint32_t v, i;
	uint8_t b;
	int32_t px = c->px, py = c->py;
	int r;

	GET(bufrd_get_u8(rd, &ev->type));
	if (ev->type == 0 || ev->type > UT_EV_TYPE_MAX)
		return UT_ECORRUPT;
	GET(bufrd_get_varint(rd, &u));
	ev->seq = c->seq + u;
	GET(bufrd_get_svarint(rd, &mono_d));
	ev->mono_ns = c->mono_ns + (uint64_t)mono_d;
	GET(bufrd_get_svarint(rd, &s));
	ev->wall_ns = (int64_t)((uint64_t)c->wall_ns + (uint64_t)mono_d + (uint64_t)s);
	GET(bufrd_get_svarint(rd, &s));
	s += c->xtime;
	if (s < 0 || s > UINT32_MAX)
		return UT_ECORRUPT;
	ev->xtime = (uint32_t)s;
	GET(bufrd_get_u8(rd, &ev->sensitivity));
	if (ev->sensitivity < UT_SENS_NONE || ev->sensitivity > UT_SENS_SECRET)
		return UT_ECORRUPT;

	switch (ev->type) {
	case UT_EV_SESSION:
		GET(bufrd_get_str(rd, ev->u.session.display, sizeof(ev->u.session.display)));
		GET(get_u32v(rd, &ev->u.session.screen_w));
		GET(get_u32v(rd, &ev->u.session.screen_h));
		GET(get_u32v(rd, &ev->u.session.double_click_ms));
		GET(get_u32v(rd, &ev->u.session.double_click_px));
		GET(bufrd_get_str(rd, ev->u.session.layout, sizeof(ev->u.session.layout)));
		GET(bufrd_get_str(rd, ev->u.session.host_tag, sizeof(ev->u.session.host_tag)));
		break;
	case UT_EV_KEY:
		GET(get_u32v(rd, &v));
		if (v > 255)
			return UT_ECORRUPT;
		ev->u.key.keycode = (uint8_t)v;
		GET(bufrd_get_u8(rd, &b));
		if (b > 3)
			return UT_ECORRUPT;
		ev->u.key.down = b & 1;
		ev->u.key.repeat = (b >> 1) & 1;
		GET(get_u32v(rd, &v));
		if (v > UINT16_MAX)
			return UT_ECORRUPT;
		ev->u.key.state = (uint16_t)v;
		GET(get_u32v(rd, &v));
		if (v > 3)
			return UT_ECORRUPT;
		ev->u.key.group = (uint8_t)v;
		GET(get_u32v(rd, &ev->u.key.keysym));
		GET(bufrd_get_str(rd, ev->u.key.text, sizeof(ev->u.key.text)));
		if (xkb_keysym_get_name(ev->u.key.keysym, ev->u.key.name,
		    sizeof(ev->u.key.name)) < 0)
			ev->u.key.name[0] = '\0';
		break;
	case UT_EV_BUTTON:
		GET(bufrd_get_u8(rd, &ev->u.button.button));
		GET(bufrd_get_u8(rd, &ev->u.button.down));
		if (ev->u.button.down > 1)
			return UT_ECORRUPT;
		GET(get_s32v(rd, px, &ev->u.button.x));
		GET(get_s32v(rd, py, &ev->u.button.y));
		GET(get_u32v(rd, &v));
		if (v > UINT16_MAX)
			return UT_ECORRUPT;
		ev->u.button.state = (uint16_t)v;
		px = ev->u.button.x;
		py = ev->u.button.y;
		break;
	case UT_EV_MOTION:
		GET(get_s32v(rd, px, &ev->u.motion.x));
		GET(get_s32v(rd, py, &ev->u.motion.y));
		px = ev->u.motion.x;
		py = ev->u.motion.y;
		break;
	case UT_EV_SCROLL:
		GET(get_s32v(rd, 0, &ev->u.scroll.dx));
		GET(get_s32v(rd, 0, &ev->u.scroll.dy));
		GET(get_s32v(rd, px, &ev->u.scroll.x));
		GET(get_s32v(rd, py, &ev->u.scroll.y));
		px = ev->u.scroll.x;
		py = ev->u.scroll.y;
		break;
	case UT_EV_FOCUS:
		GET(get_u32v(rd, &ev->u.focus.window));
		GET(get_u32v(rd, &ev->u.focus.pid));
		GET(get_s32v(rd, 0, &ev->u.focus.x));
		GET(get_s32v(rd, 0, &ev->u.focus.y));
		GET(get_u32v(rd, &ev->u.focus.w));
		GET(get_u32v(rd, &ev->u.focus.h));
		GET(bufrd_get_u8(rd, &ev->u.focus.denied));
		GET(bufrd_get_str(rd, ev->u.focus.app, sizeof(ev->u.focus.app)));
		GET(bufrd_get_str(rd, ev->u.focus.instance, sizeof(ev->u.focus.instance)));
		GET(bufrd_get_str(rd, ev->u.focus.title, sizeof(ev->u.focus.title)));
		break;
	case UT_EV_MONITORS:
		GET(get_u32v(rd, &ev->u.monitors.n));
		if (ev->u.monitors.n > UT_EV_MONITORS_MAX)
			return UT_ECORRUPT;
		for (i = 0; i < ev->u.monitors.n; i++) {
			struct ut_monitor *m = &ev->u.monitors.m[i];

			GET(get_s32v(rd, 0, &m->x));
			GET(get_s32v(rd, 0, &m->y));
			GET(get_u32v(rd, &m->w));
			GET(get_u32v(rd, &m->h));
			GET(bufrd_get_u8(rd, &b));
			m->primary = b != 0;
			GET(bufrd_get_str(rd, m->name, sizeof(m->name)));
		}
		break;
	case UT_EV_PAUSE:
	case UT_EV_RESUME:
		GET(bufrd_get_varint(rd, &ev->u.pause.until_wall_ns));
		GET(bufrd_get_str(rd, ev->u.pause.reason, sizeof(ev->u.pause.reason)));
		break;
	case UT_EV_REDACTED:
		GET(bufrd_get_str(rd, ev->u.redacted.what, sizeof(ev->u.redacted.what)));
		GET(bufrd_get_str(rd, ev->u.redacted.why, sizeof(ev->u.redacted.why)));
		GET(get_u32v(rd, &ev->u.redacted.count));
		break;
	case UT_EV_MARK:
	case UT_EV_END:
		GET(bufrd_get_str(rd, ev->u.mark.text, sizeof(ev->u.mark.text)));
		break;
	case UT_EV_TARGET:
		GET(bufrd_get_varint(rd, &u));
		if (u > ev->seq)
			return UT_ECORRUPT;
		ev->u.target.action_seq = ev->seq - u;
		GET(get_s32v(rd, 0, &ev->u.target.x));
		GET(get_s32v(rd, 0, &ev->u.target.y));
		GET(get_u32v(rd, &ev->u.target.w));
		GET(get_u32v(rd, &ev->u.target.h));
		GET(bufrd_get_str(rd, ev->u.target.role, sizeof(ev->u.target.role)));
		GET(bufrd_get_str(rd, ev->u.target.name, sizeof(ev->u.target.name)));
		GET(bufrd_get_str(rd, ev->u.target.path, sizeof(ev->u.target.path)));
		break;
	case UT_EV_FRAME:
		GET(bufrd_get_varint(rd, &ev->u.frame.frame_id));
		GET(bufrd_get_varint(rd, &ev->u.frame.base_id));
		GET(get_u32v(rd, &ev->u.frame.w));
		GET(get_u32v(rd, &ev->u.frame.h));
		GET(get_u32v(rd, &ev->u.frame.xtime_done));
		GET(get_s32v(rd, 0, &ev->u.frame.rx));
		GET(get_s32v(rd, 0, &ev->u.frame.ry));
		GET(get_u32v(rd, &ev->u.frame.rw));
		GET(get_u32v(rd, &ev->u.frame.rh));
		GET(get_u32v(rd, &v));
		if (v > UINT16_MAX)
			return UT_ECORRUPT;
		ev->u.frame.part = (uint16_t)v;
		GET(get_u32v(rd, &v));
		if (v > UINT16_MAX || v == 0 || ev->u.frame.part >= v)
			return UT_ECORRUPT;
		ev->u.frame.nparts = (uint16_t)v;
		GET(bufrd_get_u8(rd, &ev->u.frame.format));
		GET(get_u32v(rd, &ev->u.frame.skipped));
		GET(bufrd_get_varint(rd, &u));
		if (u > UT_FRAME_DATA_MAX || u > bufrd_left(rd))
			return UT_ECORRUPT;
		ev->u.frame.len = (uint32_t)u;
		ev->u.frame.data = rd->p + rd->off;
		rd->off += (size_t)u;
		break;
	default:
		break;
	}
	c->seq = ev->seq;
	c->mono_ns = ev->mono_ns;
	c->wall_ns = ev->wall_ns;
	c->xtime = ev->xtime;
	c->px = px;
	c->py = py;
	return 0;
}
#undef GET

int
event_decode(struct event_codec *c, struct bufrd *rd, struct ut_event *ev)
{
	memset(ev, 0, sizeof(*ev));
	return decode(c, rd, ev);
}
