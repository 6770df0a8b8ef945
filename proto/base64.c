/* Strict base64 encoding and decoding. */
#include "base64.h"

#include <stdbool.h>
#include <stdlib.h>

static const char alphabet[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

char *
cp_base64_encode(const uint8_t *data, size_t len)
{
	size_t out_len;
	char *out, *p;
	size_t i;

	if (len > (SIZE_MAX - 1) / 4 * 3)
		return NULL;
	out_len = (len + 2) / 3 * 4;
	out = malloc(out_len + 1);
	if (!out)
		return NULL;

	p = out;
	for (i = 0; i + 2 < len; i += 3) {
		uint32_t v = (uint32_t)data[i] << 16 |
			     (uint32_t)data[i + 1] << 8 | data[i + 2];

		*p++ = alphabet[v >> 18 & 63];
		*p++ = alphabet[v >> 12 & 63];
		*p++ = alphabet[v >> 6 & 63];
		*p++ = alphabet[v & 63];
	}
	if (i < len) {
		uint32_t v = (uint32_t)data[i] << 16;

		if (i + 1 < len)
			v |= (uint32_t)data[i + 1] << 8;
		*p++ = alphabet[v >> 18 & 63];
		*p++ = alphabet[v >> 12 & 63];
		*p++ = i + 1 < len ? alphabet[v >> 6 & 63] : '=';
		*p++ = '=';
	}
	*p = '\0';
	return out;
}

static int
symbol_value(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

int
cp_base64_decode(const char *text, size_t len, uint8_t **out, size_t *out_len)
{
	size_t padding = 0, n = 0;
	uint8_t *buffer;

	*out = NULL;
	*out_len = 0;
	if (len % 4 != 0)
		return -1;
	if (len >= 1 && text[len - 1] == '=')
		padding++;
	if (len >= 2 && text[len - 2] == '=')
		padding++;

	/* malloc(0) may return NULL, so allocate at least one byte. */
	buffer = malloc(len / 4 * 3 + 1);
	if (!buffer)
		return -1;

	for (size_t i = 0; i < len; i += 4) {
		bool last = i + 4 == len;
		uint32_t v = 0;

		for (size_t k = 0; k < 4; k++) {
			int s = symbol_value(text[i + k]);

			if (s < 0) {
				if (!(last && k >= 4 - padding))
					goto fail;
				s = 0;
			}
			v = v << 6 | (uint32_t)s;
		}
		buffer[n++] = (uint8_t)(v >> 16);
		if (!(last && padding == 2))
			buffer[n++] = (uint8_t)(v >> 8);
		if (!(last && padding >= 1))
			buffer[n++] = (uint8_t)v;

		/* Non-zero bits beyond the data make two encodings of one
		 * value; reject them as canonical decoders do. */
		if (last && padding == 2 && (v & 0xffff))
			goto fail;
		if (last && padding == 1 && (v & 0xff))
			goto fail;
	}
	*out = buffer;
	*out_len = n;
	return 0;

fail:
	free(buffer);
	return -1;
}
