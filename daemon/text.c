/* Checking and cleaning UTF-8 text, and normalizing hosts; see text.h. */
#include "text.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "daemon-limits.h"

/* Returns the length of the UTF-8 sequence at s (at most len bytes), or 0
 * when it is invalid, overlong, a surrogate or above U+10FFFF. */
static size_t
utf8_sequence(const unsigned char *s, size_t len)
{
	unsigned code;
	size_t n;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		n = 2;
		code = s[0] & 0x1f;
	} else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		n = 3;
		code = s[0] & 0x0f;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		n = 4;
		code = s[0] & 0x07;
	} else {
		return 0;
	}
	if (n > len)
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		code = code << 6 | (s[i] & 0x3f);
	}
	if ((n == 3 && code < 0x800) || (n == 4 && code < 0x10000) ||
	    (code >= 0xd800 && code <= 0xdfff) || code > 0x10ffff)
		return 0;
	return n;
}

bool
cp_utf8_printable(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0;

	while (i < len) {
		size_t n;

		if (p[i] < 0x20 || p[i] == 0x7f)
			return false;
		n = utf8_sequence(p + i, len - i);
		if (n == 0)
			return false;
		i += n;
	}
	return true;
}

char *
cp_text_printable(const char *text, size_t len, size_t max)
{
	const unsigned char *p = (const unsigned char *)text;
	char *out = malloc((len < max ? len : max) + 1);
	size_t i = 0, n = 0;

	if (!out)
		return NULL;
	while (i < len) {
		size_t sequence = utf8_sequence(p + i, len - i);
		bool control = p[i] < 0x20 || p[i] == 0x7f;

		if (sequence == 0 || control)
			sequence = 1;
		if (n + sequence > max)
			break;
		if (sequence == 1 && (control || p[i] >= 0x80))
			out[n] = '?';
		else
			memcpy(out + n, p + i, sequence);
		n += sequence;
		i += sequence;
	}
	out[n] = '\0';
	return out;
}

void
cp_text_clean(char *text)
{
	unsigned char *p = (unsigned char *)text;
	size_t len = strlen(text), i = 0;

	while (i < len) {
		size_t sequence = utf8_sequence(p + i, len - i);

		if (sequence == 0 || p[i] < 0x20 || p[i] == 0x7f) {
			p[i] = '?';
			sequence = 1;
		}
		i += sequence;
	}
}

bool
cp_host_normalize(char *host)
{
	size_t len = strlen(host);

	/* Only an IPv6 address, which has colons, is written in brackets. */
	if (len >= 2 && host[0] == '[' && host[len - 1] == ']' &&
	    memchr(host, ':', len)) {
		memmove(host, host + 1, len - 2);
		len -= 2;
		host[len] = '\0';
	}
	if (len > 0 && host[len - 1] == '.')
		host[--len] = '\0';
	if (len == 0 || len > CP_HOST_MAX || host[0] == '.' ||
	    host[len - 1] == '.' || strstr(host, ".."))
		return false;
	for (char *p = host; *p; p++) {
		unsigned char c = (unsigned char)*p;

		/* isalnum would accept letters of the locale beyond ASCII. */
		if (c >= 0x80 || (!isalnum(c) && !strchr("-._:%", c)))
			return false;
		*p = (char)tolower(c);
	}
	return true;
}
