/*
 * indicator.c - the visible recording indicator (`usetrace indicator`,
 * started by the agent).  usetrace has no hidden mode: while the agent
 * runs, a small always-on-top window in the top-right corner of the screen
 * shows "REC" (red), "PAUSED hh:mm" (amber) or "NOT RECORDING" (grey).
 * Clicking it pauses recording (the policy's default pause); clicking it
 * while paused resumes.  It is an ordinary control-socket client, polling
 * the agent's status twice a second, and exits when the agent is gone.
 * Its WM_CLASS is "usetrace-indicator", so frame capture can leave it out.
 */
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <X11/Xatom.h>
#include <X11/Xlib.h>
#include <X11/Xutil.h>

#include <jansson.h>

#include "usetrace/agent.h"
#include "usetrace/control.h"
#include "usetrace/err.h"
#include "usetrace/log.h"
#include "usetrace/util.h"

#define IND_W 190
#define IND_H 24

static unsigned long
color(Display *d, const char *name)
{
	XColor c, exact;

	if (XAllocNamedColor(d, DefaultColormap(d, DefaultScreen(d)), name, &c, &exact))
		return c.pixel;
	return BlackPixel(d, DefaultScreen(d));
}

/* Status: 'R' recording, 'P' paused, 'N' not recording, 0 no agent. */
static int
poll_status(const char *sock, char *label, size_t n)
{
	json_t *j = NULL;
	const char *state, *by;
	time_t t;
	struct tm tm;
	int st;

	if (control_ask(sock, "status", 2000, &j) < 0)
		return 0;
	state = control_reply_str(j, "state");
	if (strcmp(state, "recording") == 0) {
		snprintf(label, n, "* REC  (click to pause)");
		st = 'R';
	} else if (strcmp(state, "paused") == 0) {
		t = (time_t)(control_reply_int(j, "until_wall_ns") / 1000000000);
		localtime_r(&t, &tm);
		by = control_reply_str(j, "paused_by");
		snprintf(label, n, "PAUSED%s until %02d:%02d",
		    strcmp(by, "organisation") == 0 ? " by org" :
		    strcmp(by, "you") == 0 ? " by you" : "", tm.tm_hour, tm.tm_min);
		st = 'P';
	} else {
		snprintf(label, n, "NOT RECORDING");
		st = 'N';
	}
	json_decref(j);
	return st;
}

int
indicator_run(const char *display)
{
	Display *d;
	Window w;
	XSetWindowAttributes wa;
	XClassHint ch = { (char *)"usetrace-indicator", (char *)"Usetrace-indicator" };
	XEvent e;
	GC gc;
	char sock[256], label[64] = "", shown[64] = "", reply[CONTROL_LINE_MAX];
	unsigned long red, amber, grey, white;
	struct pollfd p;
	int st = 0, nst, sw;
	Atom above, state;

	if (control_socket_path(sock, sizeof(sock), 0) < 0)
		return UT_ENOTFOUND;
	if ((d = XOpenDisplay(display)) == NULL)
		return UT_EX11;
	sw = DisplayWidth(d, DefaultScreen(d));
	red = color(d, "#c62828");
	amber = color(d, "#ef8f00");
	grey = color(d, "#616161");
	white = WhitePixel(d, DefaultScreen(d));
	memset(&wa, 0, sizeof(wa));
	wa.override_redirect = True;
	wa.background_pixel = grey;
	wa.event_mask = ExposureMask | ButtonPressMask;
	w = XCreateWindow(d, DefaultRootWindow(d), sw - IND_W - 4, 4, IND_W, IND_H,
	    0, CopyFromParent, InputOutput, CopyFromParent,
	    CWOverrideRedirect | CWBackPixel | CWEventMask, &wa);
	XSetClassHint(d, w, &ch);
	XStoreName(d, w, "usetrace indicator");
	state = XInternAtom(d, "_NET_WM_STATE", False);
	above = XInternAtom(d, "_NET_WM_STATE_ABOVE", False);
	XChangeProperty(d, w, state, XA_ATOM, 32, PropModeReplace,
	    (unsigned char *)&above, 1);
	XMapRaised(d, w);
	gc = XCreateGC(d, w, 0, NULL);
	XSetForeground(d, gc, white);
	p.fd = ConnectionNumber(d);
	p.events = POLLIN;
	for (;;) {
		nst = poll_status(sock, label, sizeof(label));
		if (nst == 0)
			break; /* the agent is gone */
		if (nst != st) {
			st = nst;
			XSetWindowBackground(d, w, st == 'R' ? red : st == 'P' ? amber : grey);
		}
		/*
		 * Redraw only when the label changes (or on Expose): every
		 * redraw is screen damage the frame grabber would look at.
		 */
		if (strcmp(label, shown) != 0) {
			XRaiseWindow(d, w); /* on top of menus that opened since */
			XClearWindow(d, w);
			XDrawString(d, w, gc, 8, 16, label, (int)strlen(label));
			memcpy(shown, label, sizeof(shown));
		}
		XFlush(d);
		if (poll(&p, 1, 500) > 0) {
			while (XPending(d)) {
				XNextEvent(d, &e);
				if (e.type == Expose)
					shown[0] = '\0';
				if (e.type == ButtonPress &&
				    control_request(sock, st == 'P' ? "resume" :
				    "pause", reply, sizeof(reply), 5000) < 0)
					log_warn("indicator: the agent did not answer");
			}
		}
	}
	XFreeGC(d, gc);
	XDestroyWindow(d, w);
	XCloseDisplay(d);
	return 0;
}
