/*
 * test_event.c - record encoding: round trips for every type, and decoding
 * of damaged input fails cleanly.
 */
#include "usetrace/err.h"
#include "usetrace/event.h"
#include "../../src/common/framedata_int.h"
#include "t.h"

static void
fill(struct ut_event *ev, unsigned type, uint64_t seq)
{
	memset(ev, 0, sizeof(*ev));
	ev->type = (uint8_t)type;
	ev->seq = seq;
	ev->mono_ns = 1000000000ull + seq * 1234567ull;
	ev->wall_ns = 1700000000000000000ll + (int64_t)seq * 1234567 + (seq % 3);
	ev->xtime = (uint32_t)(seq * 7);
	ev->sensitivity = UT_SENS_CONTENT;
	switch (type) {
	case UT_EV_SESSION:
		strcpy(ev->u.session.display, ":99");
		ev->u.session.screen_w = 1920;
		ev->u.session.screen_h = 1080;
		ev->u.session.double_click_ms = 250;
		strcpy(ev->u.session.layout, "us,de");
		break;
	case UT_EV_KEY:
		ev->u.key.keycode = 38;
		ev->u.key.down = 1;
		ev->u.key.repeat = 1;
		ev->u.key.state = 0x2001;
		ev->u.key.group = 1;
		ev->u.key.keysym = 0x61;
		strcpy(ev->u.key.name, "a");
		strcpy(ev->u.key.text, "a");
		break;
	case UT_EV_BUTTON:
		ev->u.button.button = 3;
		ev->u.button.down = 1;
		ev->u.button.x = -5;
		ev->u.button.y = 4000;
		ev->u.button.state = 0x100;
		break;
	case UT_EV_MOTION:
		ev->u.motion.x = (int32_t)seq;
		ev->u.motion.y = -(int32_t)seq;
		break;
	case UT_EV_SCROLL:
		ev->u.scroll.dx = -120;
		ev->u.scroll.dy = 240;
		ev->u.scroll.x = 1;
		ev->u.scroll.y = 2;
		break;
	case UT_EV_FOCUS:
		ev->u.focus.window = 0x1200007;
		ev->u.focus.pid = 4242;
		ev->u.focus.x = -10;
		ev->u.focus.y = 20;
		ev->u.focus.w = 800;
		ev->u.focus.h = 600;
		strcpy(ev->u.focus.app, "Mousepad");
		strcpy(ev->u.focus.instance, "mousepad");
		strcpy(ev->u.focus.title, "Untitled 1 \xe2\x80\x94 Mousepad");
		break;
	case UT_EV_MONITORS:
		ev->u.monitors.n = 2;
		ev->u.monitors.m[0].w = 1920;
		ev->u.monitors.m[0].h = 1080;
		ev->u.monitors.m[0].primary = true;
		strcpy(ev->u.monitors.m[0].name, "A");
		ev->u.monitors.m[1].x = 1920;
		ev->u.monitors.m[1].w = 1280;
		ev->u.monitors.m[1].h = 1024;
		strcpy(ev->u.monitors.m[1].name, "B");
		break;
	case UT_EV_PAUSE:
	case UT_EV_RESUME:
		ev->u.pause.until_wall_ns = 99;
		strcpy(ev->u.pause.reason, "user");
		break;
	case UT_EV_REDACTED:
		strcpy(ev->u.redacted.what, "keys");
		strcpy(ev->u.redacted.why, "password-field");
		ev->u.redacted.count = 12;
		break;
	case UT_EV_MARK:
	case UT_EV_END:
		strcpy(ev->u.mark.text, "stopped");
		break;
	case UT_EV_FRAME:
		ev->u.frame.frame_id = 77;
		ev->u.frame.base_id = 76;
		ev->u.frame.w = 10;
		ev->u.frame.h = 20;
		ev->u.frame.rx = 2;
		ev->u.frame.rw = 4;
		ev->u.frame.rh = 4;
		ev->u.frame.nparts = 2;
		ev->u.frame.part = 1;
		ev->u.frame.format = UT_FRAME_WEBP_LOSSY;
		ev->u.frame.len = 5;
		ev->u.frame.data = (const uint8_t *)"RIFF!";
		break;
	case UT_EV_TARGET:
		ev->u.target.action_seq = seq > 3 ? seq - 3 : seq;
		ev->u.target.x = -4;
		ev->u.target.y = 30;
		ev->u.target.w = 120;
		ev->u.target.h = 24;
		strcpy(ev->u.target.role, "menu item");
		strcpy(ev->u.target.name, "Save [EMAIL]");
		strcpy(ev->u.target.path, "frame/panel/menu bar/menu item");
		break;
	default:
		break;
	}
}

static void
test_event_roundtrip_all_types(void)
{
	struct ut_event in[3 * UT_EV_TYPE_MAX], out;
	struct event_codec ec, dc;
	struct bufrd r;
	struct buf b;
	unsigned t, i, n = 0;

	buf_init(&b, 1 << 20);
	event_codec_init(&ec);
	for (i = 0; i < 3; i++)
		for (t = 1; t <= UT_EV_TYPE_MAX; t++) {
			fill(&in[n], t, n + 1);
			T_ASSERT_EQ(event_encode(&ec, &in[n], &b), 0);
			n++;
		}
	event_codec_init(&dc);
	bufrd_init(&r, b.data, b.len);
	for (i = 0; i < n; i++) {
		T_ASSERT_EQ(event_decode(&dc, &r, &out), 0);
		if (out.type == UT_EV_FRAME) {
			T_ASSERT_EQ(out.u.frame.len, 5);
			T_ASSERT(memcmp(out.u.frame.data, "RIFF!", 5) == 0);
			out.u.frame.data = in[i].u.frame.data;
		}
		T_ASSERT(memcmp(&in[i], &out, sizeof(out)) == 0);
	}
	T_ASSERT_EQ(bufrd_left(&r), 0);
	buf_finish(&b);
}

static void
test_event_rejects_bad_type(void)
{
	struct ut_event ev;
	struct event_codec c;
	struct buf b;

	buf_init(&b, 1024);
	event_codec_init(&c);
	fill(&ev, UT_EV_KEY, 1);
	ev.type = 0;
	T_ASSERT_EQ(event_encode(&c, &ev, &b), UT_EINVAL);
	ev.type = UT_EV_TYPE_MAX + 1;
	T_ASSERT_EQ(event_encode(&c, &ev, &b), UT_EINVAL);
	T_ASSERT_EQ(b.len, 0);
	buf_finish(&b);
}

static void
test_event_truncations_fail_cleanly(void)
{
	struct ut_event ev, out;
	struct event_codec c;
	struct bufrd r;
	struct buf b;
	unsigned t;
	size_t k;

	for (t = 1; t <= UT_EV_TYPE_MAX; t++) {
		buf_init(&b, 4096);
		event_codec_init(&c);
		fill(&ev, t, 5);
		T_ASSERT_EQ(event_encode(&c, &ev, &b), 0);
		for (k = 0; k < b.len; k++) {
			event_codec_init(&c);
			bufrd_init(&r, b.data, k);
			T_ASSERT_EQ(event_decode(&c, &r, &out), UT_ECORRUPT);
		}
		buf_finish(&b);
	}
}

/*
 * A target record names the press it belongs to by seq, which cannot be
 * later than its own: encode refuses that, decode reports it corrupt.
 */
static void
test_event_target_refers_back(void)
{
	struct ut_event ev, out;
	struct event_codec c;
	struct bufrd r;
	struct buf b;

	buf_init(&b, 4096);
	event_codec_init(&c);
	fill(&ev, UT_EV_TARGET, 10);
	T_ASSERT_EQ(ev.u.target.action_seq, 7);
	T_ASSERT_EQ(event_encode(&c, &ev, &b), 0);
	event_codec_init(&c);
	bufrd_init(&r, b.data, b.len);
	T_ASSERT_EQ(event_decode(&c, &r, &out), 0);
	T_ASSERT_EQ(out.u.target.action_seq, 7);
	T_ASSERT_STREQ(out.u.target.role, "menu item");
	T_ASSERT_STREQ(out.u.target.path, "frame/panel/menu bar/menu item");
	T_ASSERT_STREQ(event_type_name(UT_EV_TARGET), "target");
	buf_finish(&b);
	buf_init(&b, 4096);
	event_codec_init(&c);
	ev.u.target.action_seq = 11;
	T_ASSERT_EQ(event_encode(&c, &ev, &b), UT_EINVAL);
	T_ASSERT_EQ(b.len, 0);
	buf_finish(&b);
}

static void
test_event_type_names(void)
{
	T_ASSERT_STREQ(event_type_name(UT_EV_KEY), "key");
	T_ASSERT_STREQ(event_type_name(UT_EV_REDACTED), "redacted");
	T_ASSERT_STREQ(event_type_name(0), "unknown");
	T_ASSERT_STREQ(event_type_name(200), "unknown");
}

/*
 * The frame-data destructor wipes the pixels before the memory goes back:
 * the release function the destructor hands the allocation to looks at it
 * first (the test seam of framedata_int.h; ut_frame_data_free is the same
 * code with free()).
 */
#define FD_LEN 300
static size_t released, nonzero;

static void
look_then_free(void *p)
{
	const struct ut_frame_data *fd = p;
	size_t i;

	released++;
	for (i = 0; i < FD_LEN; i++)
		nonzero += fd->bytes[i] != 0;
	free(p);
}

static void
test_frame_data_wiped_on_free(void)
{
	struct ut_frame_data *fd = ut_frame_data_new(FD_LEN);
	struct ut_event ev;

	T_ASSERT_EQ(fd->len, FD_LEN);
	memset(fd->bytes, 0xa5, FD_LEN);
	released = nonzero = 0;
	frame_data__free_with(fd, look_then_free);
	T_ASSERT_EQ(released, 1);
	T_ASSERT_EQ(nonzero, 0);
	frame_data__free_with(NULL, look_then_free);  /* NULL ok */
	T_ASSERT_EQ(released, 1);

	/* A record that owns frame data: attach keeps data/len on its bytes. */
	memset(&ev, 0, sizeof(ev));
	ev.type = UT_EV_FRAME;
	fd = ut_frame_data_new(5);
	memcpy(fd->bytes, "RIFF!", 5);
	event_frame_attach(&ev, fd);
	T_ASSERT(ev.u.frame.owned == fd && ev.u.frame.data == fd->bytes);
	T_ASSERT_EQ(ev.u.frame.len, 5);
	event_dispose(&ev);  /* released (ASan/LeakSanitizer see a leak or a double free) */
	event_frame_attach(&ev, NULL);
	T_ASSERT(ev.u.frame.data == NULL && ev.u.frame.len == 0);
	event_dispose(&ev);  /* owns nothing now */
	/* A decoded record owns nothing: dispose leaves its bytes alone. */
	ev.u.frame.data = (const uint8_t *)"RIFF!";
	ev.u.frame.len = 5;
	event_dispose(&ev);
	event_dispose(NULL);
}

/* The one REDACTED builder: the place of the record it stands for. */
static void
test_event_redacted_builder(void)
{
	struct ut_event at, red;
	char longwhy[200];

	memset(&at, 0, sizeof(at));
	at.type = UT_EV_KEY;
	at.seq = 42;
	at.mono_ns = 7;
	at.wall_ns = -3;
	at.xtime = 9;
	snprintf(at.u.key.text, sizeof(at.u.key.text), "s");
	memset(&red, 0xaa, sizeof(red));
	event_redacted(&red, &at, "keys", "CREDIT_CARD", 16, UT_SENS_SECRET);
	T_ASSERT_EQ(red.type, UT_EV_REDACTED);
	T_ASSERT_EQ(red.seq, 42);
	T_ASSERT_EQ(red.mono_ns, 7);
	T_ASSERT_EQ(red.wall_ns, -3);
	T_ASSERT_EQ(red.xtime, 9);
	T_ASSERT_EQ(red.sensitivity, UT_SENS_SECRET);
	T_ASSERT_STREQ(red.u.redacted.what, "keys");
	T_ASSERT_STREQ(red.u.redacted.why, "CREDIT_CARD");
	T_ASSERT_EQ(red.u.redacted.count, 16);
	/* No place given: zero, the caller's to set; why cut to its field. */
	memset(longwhy, 'w', sizeof(longwhy) - 1);
	longwhy[sizeof(longwhy) - 1] = '\0';
	event_redacted(&red, NULL, "text", longwhy, 1, 3);
	T_ASSERT_EQ(red.seq, 0);
	T_ASSERT_EQ(red.xtime, 0);
	T_ASSERT_EQ(strlen(red.u.redacted.why), sizeof(red.u.redacted.why) - 1);
	T_ASSERT_EQ(red.sensitivity, 3);
}

T_LIST(T_CASE(test_event_roundtrip_all_types), T_CASE(test_event_target_refers_back), T_CASE(test_event_rejects_bad_type),
    T_CASE(test_event_truncations_fail_cleanly), T_CASE(test_event_type_names),
    T_CASE(test_frame_data_wiped_on_free), T_CASE(test_event_redacted_builder))
