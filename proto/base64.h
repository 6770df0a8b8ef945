/* Base64 (RFC 4648, with padding), as certificates and names travel in
 * certpick messages. */
#pragma once

#include <stddef.h>
#include <stdint.h>

/* Encodes len bytes into a new NUL-terminated string, or returns NULL when
 * out of memory. */
char *cp_base64_encode(const uint8_t *data, size_t len);

/* Decodes text[0..len) strictly: the standard alphabet, padding to a
 * multiple of four, no whitespace, zero bits after the last symbol. Returns
 * 0 with a new buffer in *out (free it) and its length in *out_len, or -1
 * for invalid input or when out of memory. */
int cp_base64_decode(const char *text, size_t len, uint8_t **out,
		     size_t *out_len);
