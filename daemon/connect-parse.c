/* Parsing the argument of certpick connect and HTTP status lines. */
#include "connect-parse.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define HTTPS_PREFIX "https://"

static int
invalid_target(const char *arg)
{
	fprintf(stderr,
		"certpick connect: invalid target '%.200s'; expected "
		"HOST:PORT, [ADDRESS]:PORT or https://HOST[:PORT][/PATH]\n",
		arg);
	return -1;
}

/* Spaces and control characters would end the request line early or add
 * header lines to the request. */
static bool
has_control_or_space(const char *text)
{
	for (const unsigned char *p = (const unsigned char *)text; *p; p++)
		if (*p <= 0x20 || *p == 0x7f)
			return true;
	return false;
}

/* Reads a port of 1 to 5 digits from text[0..len). Returns it, or -1. */
static long
parse_port(const char *text, size_t len)
{
	long value = 0;

	if (len == 0 || len > 5)
		return -1;
	for (size_t i = 0; i < len; i++) {
		if (text[i] < '0' || text[i] > '9')
			return -1;
		value = value * 10 + (text[i] - '0');
	}
	return value >= 1 && value <= 65535 ? value : -1;
}

/* Splits the authority rest[0..len) into host and port. */
static int
parse_authority(const char *rest, size_t len, struct cp_connect_target *target)
{
	const char *end = rest + len, *port = NULL, *host = rest;
	size_t host_len;
	long value;

	if (*rest == '[') {
		const char *close = memchr(rest, ']', len);

		if (!close)
			return -1;
		host = rest + 1;
		host_len = (size_t)(close - host);
		if (close + 1 < end) {
			if (close[1] != ':')
				return -1;
			port = close + 2;
		}
	} else {
		const char *colon = memchr(rest, ':', len);

		host_len = (size_t)((colon ? colon : end) - rest);
		if (colon)
			port = colon + 1;
	}
	if (host_len == 0 || host_len >= sizeof(target->host) ||
	    memchr(host, '[', host_len) || memchr(host, ']', host_len))
		return -1;
	memcpy(target->host, host, host_len);
	target->host[host_len] = '\0';

	if (port) {
		value = parse_port(port, (size_t)(end - port));
		if (value < 0)
			return -1;
		snprintf(target->port, sizeof(target->port), "%ld", value);
	} else if (target->https) {
		snprintf(target->port, sizeof(target->port), "443");
	} else {
		return -1;
	}
	return 0;
}

/* Copies the path and query of a URL, from "/" or "?" up to a fragment. */
static int
copy_path(const char *start, struct cp_connect_target *target)
{
	size_t len = strcspn(start, "#");
	bool slash = *start != '/';
	int n;

	n = snprintf(target->path, sizeof(target->path), "%s%.*s",
		     slash ? "/" : "", (int)len, start);
	return n > 0 && (size_t)n < sizeof(target->path) ? 0 : -1;
}

int
cp_connect_parse_target(const char *arg, struct cp_connect_target *target)
{
	const char *rest = arg;
	size_t len;

	memset(target, 0, sizeof(*target));
	if (strncasecmp(arg, HTTPS_PREFIX, strlen(HTTPS_PREFIX)) == 0) {
		target->https = true;
		rest = arg + strlen(HTTPS_PREFIX);
		len = strcspn(rest, "/?#");
	} else if (strstr(arg, "://")) {
		fprintf(stderr,
			"certpick connect: unsupported URL '%.200s'; use an "
			"https:// URL or HOST:PORT\n",
			arg);
		return -1;
	} else {
		len = strlen(rest);
	}

	if (has_control_or_space(arg) || parse_authority(rest, len, target) < 0)
		return invalid_target(arg);
	if (!target->https) {
		snprintf(target->path, sizeof(target->path), "/");
		return 0;
	}
	if (copy_path(rest + len, target) < 0)
		return invalid_target(arg);
	return 0;
}

static bool
is_digit(char c)
{
	return c >= '0' && c <= '9';
}

const char *
cp_http_parse_status_line(const char *line, int *status)
{
	int code;

	/* status-line = HTTP-version SP status-code SP [reason-phrase], with
	 * HTTP-version = "HTTP/" DIGIT "." DIGIT and a 3-digit code (RFC
	 * 9112 section 4). Servers that end the line after the code are
	 * common, so the second SP is optional. RFC 9110 section 15 makes
	 * codes outside 100-599 invalid. */
	if (strncmp(line, "HTTP/", 5) != 0 || !is_digit(line[5]) ||
	    line[6] != '.' || !is_digit(line[7]) || line[8] != ' ')
		return NULL;
	line += 9;
	if (!is_digit(line[0]) || !is_digit(line[1]) || !is_digit(line[2]))
		return NULL;
	code = (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
	if (code < 100 || code > 599)
		return NULL;
	line += 3;
	if (*line && *line != ' ')
		return NULL;
	*status = code;
	return *line ? line + 1 : line;
}
