/*
 * web_int.h - the web page's files as built into the binary: the table
 * tools/embed_assets.py generates from web/ (web/meson.build lists the
 * files).  Private to src/server/.
 */
#ifndef USETRACE_WEB_INT_H
#define USETRACE_WEB_INT_H

#include <stddef.h>

struct srv_asset {
	const char *name;           /* "index.html", "app.js" */
	const char *content_type;
	const unsigned char *data;
	size_t len;
	const char *etag;           /* strong: "\"<32 hex of SHA-256>\"" */
};

extern const struct srv_asset srv_assets[];
extern const size_t srv_nassets;

#endif
