/* UTF-8 text from files, certificates and peers: checking it, and making
 * a copy that is fit to show and to send as a JSON string. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

/* Returns true when s[0..len) is UTF-8 without control characters. */
bool cp_utf8_printable(const char *s, size_t len);

/* Copies text[0..len) into a new string for which cp_utf8_printable holds:
 * every byte that does not start a valid UTF-8 sequence, and every C0
 * control character and DEL (NUL included), becomes '?'. The copy is cut
 * between characters to at most max bytes. Returns NULL when out of
 * memory. */
char *cp_text_printable(const char *text, size_t len, size_t max);

/* Makes text fit cp_utf8_printable in place, as cp_text_printable does,
 * for a message that quotes a peer's bytes and may have been cut inside a
 * character. */
void cp_text_clean(char *text);
