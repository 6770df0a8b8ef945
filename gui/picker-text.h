/* The words the picker shows: reasons for exclusion, key types, dates,
 * storage places, and what distinguishes identities of the same name.
 * GLib only, so that tests run without a display. Every function returns
 * a new string (free it with g_free). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <glib.h>

#include "picker-request.h"

/* Days before notAfter from which the expiry shows as a warning: a month
 * leaves time to renew a certificate. */
#define PICKER_EXPIRY_WARNING_DAYS 30

/* Maximum length of a peer string shown in one line, in characters. */
#define PICKER_TEXT_MAX_CHARS 200

/* Copies text for display: control and bidirectional formatting
 * characters become U+FFFD, so that a peer cannot reorder or hide what the
 * dialog shows, and text longer than max_chars ends with an ellipsis. */
char *picker_text_clean(const char *text, size_t max_chars);

/* The label, else the common name, else the subject. */
char *picker_text_display_name(const struct picker_candidate *candidate);

/* Sets the distinction of every candidate whose display name another
 * candidate shares: "Serial 100B" when the serials of that group differ
 * and are short, else the shortest SHA-256 prefix (at least four bytes)
 * that differs within the group. */
void picker_text_tell_apart(struct picker_candidate **candidates, size_t n);

/* "EC P-256", "RSA 2048-bit", "Ed25519". */
char *picker_text_key(const struct picker_candidate *candidate);

/* "Stored in a file", or "On the token “NAME”" for a PKCS #11 URI. */
char *picker_text_storage(const struct picker_candidate *candidate);

/* A matcher reason code in words, with the candidate's dates or key type
 * where they help; unknown codes are shown as they are. */
char *picker_text_reason(const struct picker_candidate *candidate,
			 const char *code);

/* An RFC 3339 time as a local date ("1 Dec 2036"), or the string itself
 * when it does not parse. */
char *picker_text_date(const char *rfc3339);

/* The validity of a candidate at now, as a short phrase ("Expires
 * 1 Dec 2036", "Expires in 5 days", "Expired on 1 Jan 2021"). Sets *warn
 * when the phrase is a warning: expired, not yet valid, or expiring within
 * PICKER_EXPIRY_WARNING_DAYS. */
char *picker_text_expiry(const struct picker_candidate *candidate,
			 GDateTime *now, bool *warn);

/* A keyUsage or extendedKeyUsage name ("digitalSignature", "clientAuth")
 * in words; names it does not know, such as OIDs, are returned as is. */
char *picker_text_usage(const char *name);

/* A SHA-256 fingerprint of 32 colon-joined pairs split into two lines. */
char *picker_text_fingerprint(const char *fingerprint);

/* A count with a comma between groups of three digits, as in "1,200",
 * because the dialog's words are English. */
char *picker_text_count(uint64_t count);

/* The title of the excluded identities: "3 certificates not accepted by
 * this server" for the listed ones, and with omitted ones also ", 1,150 not
 * listed", or ", none listed" when listed is 0. */
char *picker_text_excluded_title(size_t listed, uint64_t omitted);

/* "40 more eligible certificates are not listed. Run “certpick match” to
 * see all." for eligible identities that certpickd left out. */
char *picker_text_omitted_eligible(uint64_t count);

/* The error line of a repeated Choose: the reason and the tries left
 * (tries_left < 0 when the source does not count them). */
char *picker_text_retry(const char *reason, int64_t tries_left);

/* A countdown as "m:ss" for seconds >= 0. */
char *picker_text_countdown(int64_t seconds);
