/* The text that certpick connect reads: its URL or HOST:PORT argument and
 * the status line of the HTTP server's response. */
#pragma once

#include <stdbool.h>

/* The server and, for a URL, the request path. */
struct cp_connect_target {
	char host[256];	 /* without the brackets of an IPv6 address */
	char port[8];	 /* decimal, 1 to 65535 */
	char path[2048]; /* path and query, "/" at least, no fragment */
	bool https;	 /* an https:// URL rather than HOST:PORT */
};

/* Splits "HOST:PORT", "[ADDRESS]:PORT" or "https://HOST[:PORT][/PATH]"
 * (the scheme in any case, the port 443 by default). The query stays in
 * the path and the fragment is dropped, as browsers do; a "?" right after
 * the host gets a "/" before it. Returns 0, or -1 after printing to
 * stderr why arg is invalid. */
int cp_connect_parse_target(const char *arg, struct cp_connect_target *target);

/* Reads an HTTP/1.x status line without its CRLF ("HTTP/1.1 200 OK") into
 * *status. Returns the reason phrase (the rest of the line, maybe
 * empty), or NULL when line is not a status line or the code is outside
 * 100-599. */
const char *cp_http_parse_status_line(const char *line, int *status);
