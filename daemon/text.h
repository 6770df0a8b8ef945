/* UTF-8 text from files, certificates and peers: checking it, making a
 * copy that is fit to show and to send as a JSON string, and host names. */
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

/* Normalizes the host of a server in place, as certpickd compares hosts:
 * lowercase, without the brackets of an IPv6 address and without the
 * trailing dot of a fully qualified name. Accepts ASCII letters, digits
 * and "-._:%" (IDNs in their A-label form, IPv6 addresses and zones).
 * Returns false, leaving host changed, when it is empty, longer than
 * CP_HOST_MAX after normalizing, has an empty label (a leading dot, two
 * dots in a row, or a dot left at the end) or another character. */
bool cp_host_normalize(char *host);
