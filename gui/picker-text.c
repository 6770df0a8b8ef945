/* The words the picker shows; see picker-text.h. */
#include "picker-text.h"

#include <string.h>

/* Serials longer than this many hex digits (most CAs now use 16 random
 * bytes) tell identities apart less readably than a fingerprint prefix. */
#define SERIAL_SHOWN_MAX 16

/* Minimum number of fingerprint bytes in a prefix that distinguishes
 * identities. */
#define FINGERPRINT_PREFIX_MIN 4

static bool
is_hidden_character(gunichar c)
{
	/* C0 and C1 controls, and the Unicode bidirectional embeddings,
	 * overrides and isolates, which can reorder the text around them. */
	if (c < 0x20 || (c >= 0x7f && c < 0xa0))
		return true;
	if (c == 0x061c || c == 0x200e || c == 0x200f)
		return true;
	if (c >= 0x202a && c <= 0x202e)
		return true;
	return c >= 0x2066 && c <= 0x2069;
}

char *
picker_text_clean(const char *text, size_t max_chars)
{
	GString *clean = g_string_new(NULL);
	size_t count = 0;

	for (const char *p = text; *p; p = g_utf8_next_char(p)) {
		gunichar c = g_utf8_get_char(p);

		if (count == max_chars) {
			g_string_append(clean, "…");
			break;
		}
		g_string_append_unichar(clean,
					is_hidden_character(c) ? 0xfffd : c);
		count++;
	}
	return g_string_free(clean, FALSE);
}

char *
picker_text_display_name(const struct picker_candidate *candidate)
{
	const char *name = candidate->label;

	if (!*name)
		name = candidate->common_name;
	if (!*name)
		name = candidate->subject;
	if (!*name)
		name = "Unnamed certificate";
	return picker_text_clean(name, PICKER_TEXT_MAX_CHARS);
}

static bool
same_name(const struct picker_candidate *a, const struct picker_candidate *b)
{
	return strcmp(a->display_name, b->display_name) == 0;
}

/* Returns true when every candidate in the group has a short serial that
 * no other candidate in it has. */
static bool
serials_tell_apart(struct picker_candidate **group, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (!*group[i]->serial ||
		    strlen(group[i]->serial) > SERIAL_SHOWN_MAX)
			return false;
		for (size_t j = 0; j < i; j++) {
			if (g_ascii_strcasecmp(group[i]->serial,
					       group[j]->serial) == 0)
				return false;
		}
	}
	return true;
}

/* Returns the number of fingerprint characters ("AB:" per byte, without
 * the last colon) that make each prefix in the group unique. */
static size_t
fingerprint_prefix_length(struct picker_candidate **group, size_t n)
{
	size_t bytes = FINGERPRINT_PREFIX_MIN;

	for (; bytes < 32; bytes++) {
		size_t chars = bytes * 3 - 1;
		bool unique = true;

		for (size_t i = 0; i < n && unique; i++) {
			for (size_t j = 0; j < i && unique; j++) {
				if (strncmp(group[i]->sha256_fingerprint,
					    group[j]->sha256_fingerprint,
					    chars) == 0)
					unique = false;
			}
		}
		if (unique)
			break;
	}
	return bytes * 3 - 1;
}

/* The first bytes of text for display, even when the cut falls inside a
 * character of a peer's malformed fingerprint. */
static char *
clean_prefix(const char *text, size_t bytes)
{
	g_autofree char *prefix = g_strndup(text, bytes);
	g_autofree char *valid = g_utf8_make_valid(prefix, -1);

	return picker_text_clean(valid, PICKER_TEXT_MAX_CHARS);
}

static void
tell_apart_group(struct picker_candidate **group, size_t n)
{
	bool by_serial = serials_tell_apart(group, n);
	size_t prefix = by_serial ? 0 : fingerprint_prefix_length(group, n);

	for (size_t i = 0; i < n; i++) {
		g_autofree char *text = NULL;

		if (by_serial)
			text = picker_text_clean(group[i]->serial,
						 SERIAL_SHOWN_MAX);
		else
			text = clean_prefix(group[i]->sha256_fingerprint,
					    prefix);
		g_free(group[i]->distinction);
		group[i]->distinction = g_strdup_printf(
			"%s %s", by_serial ? "Serial" : "SHA-256", text);
	}
}

void
picker_text_tell_apart(struct picker_candidate **candidates, size_t n)
{
	g_autofree struct picker_candidate **group =
		g_new(struct picker_candidate *, n ? n : 1);
	g_autofree bool *done = g_new0(bool, n ? n : 1);

	for (size_t i = 0; i < n; i++) {
		size_t size = 0;

		if (done[i])
			continue;
		for (size_t j = i; j < n; j++) {
			if (!done[j] &&
			    same_name(candidates[i], candidates[j])) {
				group[size++] = candidates[j];
				done[j] = true;
			}
		}
		if (size > 1)
			tell_apart_group(group, size);
	}
}

char *
picker_text_key(const struct picker_candidate *candidate)
{
	g_autofree char *type = picker_text_clean(candidate->key_type, 20);

	if (strcmp(type, "ED25519") == 0)
		return g_strdup("Ed25519");
	if (strcmp(type, "ED448") == 0)
		return g_strdup("Ed448");
	if (strcmp(type, "EC") == 0 && candidate->curve) {
		g_autofree char *curve =
			picker_text_clean(candidate->curve, 20);

		return g_strdup_printf("EC %s", curve);
	}
	if (candidate->key_bits > 0)
		return g_strdup_printf("%s %" G_GINT64_FORMAT "-bit", type,
				       candidate->key_bits);
	return g_steal_pointer(&type);
}

/* Returns the percent-decoded value of the "token" attribute of a PKCS #11
 * URI (RFC 7512), or NULL. */
static char *
pkcs11_token_name(const char *uri)
{
	g_auto(GStrv) attributes = NULL;

	if (!g_str_has_prefix(uri, "pkcs11:"))
		return NULL;
	attributes = g_strsplit_set(uri + strlen("pkcs11:"), ";?", -1);
	for (char **attribute = attributes; *attribute; attribute++) {
		if (g_str_has_prefix(*attribute, "token="))
			return g_uri_unescape_string(
				*attribute + strlen("token="), NULL);
	}
	return NULL;
}

char *
picker_text_storage(const struct picker_candidate *candidate)
{
	g_autofree char *token = NULL;
	g_autofree char *clean = NULL;

	if (strcmp(candidate->source_kind, "pkcs11") != 0)
		return g_strdup("Stored in a file");
	token = pkcs11_token_name(candidate->source);
	if (!token || !g_utf8_validate(token, -1, NULL))
		return g_strdup("On a security token");
	clean = picker_text_clean(token, 64);
	return g_strdup_printf("On the token “%s”", clean);
}

static GDateTime *
parse_time(const char *rfc3339)
{
	g_autoptr(GTimeZone) utc = g_time_zone_new_utc();

	return g_date_time_new_from_iso8601(rfc3339, utc);
}

char *
picker_text_date(const char *rfc3339)
{
	g_autoptr(GDateTime) time = parse_time(rfc3339);
	g_autoptr(GDateTime) local = NULL;

	if (!time)
		return picker_text_clean(rfc3339, 40);
	local = g_date_time_to_local(time);
	return g_date_time_format(local, "%-d %b %Y");
}

char *
picker_text_reason(const struct picker_candidate *candidate, const char *code)
{
	if (strcmp(code, "issuer-not-accepted") == 0)
		return g_strdup(
			"Not issued by an authority this server accepts");
	if (strcmp(code, "expired") == 0) {
		g_autofree char *date = picker_text_date(candidate->not_after);
		return g_strdup_printf("Expired on %s", date);
	}
	if (strcmp(code, "not-yet-valid") == 0) {
		g_autofree char *date = picker_text_date(candidate->not_before);
		return g_strdup_printf("Not valid until %s", date);
	}
	if (strcmp(code, "no-client-auth-eku") == 0)
		return g_strdup("Not meant for TLS client authentication");
	if (strcmp(code, "key-usage-lacks-digital-signature") == 0)
		return g_strdup("Its key usage does not allow signing");
	if (strcmp(code, "key-type-not-accepted") == 0) {
		g_autofree char *key = picker_text_key(candidate);
		return g_strdup_printf("This server does not accept %s keys",
				       key);
	}
	if (strcmp(code, "key-unavailable") == 0)
		return g_strdup("The private key is missing or cannot be read");
	g_autofree char *clean = picker_text_clean(code, 60);
	return g_strdup_printf("Not accepted (%s)", clean);
}

char *
picker_text_expiry(const struct picker_candidate *candidate, GDateTime *now,
		   bool *warn)
{
	g_autoptr(GDateTime) not_before = parse_time(candidate->not_before);
	g_autoptr(GDateTime) not_after = parse_time(candidate->not_after);
	g_autofree char *date = picker_text_date(candidate->not_after);
	GTimeSpan left;
	int64_t days;

	*warn = false;
	if (!not_after)
		return g_strdup_printf("Expires %s", date);
	if (not_before && g_date_time_compare(now, not_before) < 0) {
		g_autofree char *from = picker_text_date(candidate->not_before);

		*warn = true;
		return g_strdup_printf("Valid from %s", from);
	}

	left = g_date_time_difference(not_after, now);
	if (left < 0) {
		*warn = true;
		return g_strdup_printf("Expired on %s", date);
	}
	days = left / G_TIME_SPAN_DAY;
	if (days >= PICKER_EXPIRY_WARNING_DAYS)
		return g_strdup_printf("Expires %s", date);

	*warn = true;
	if (days == 0)
		return g_strdup("Expires today");
	if (days == 1)
		return g_strdup("Expires tomorrow");
	return g_strdup_printf("Expires in %" G_GINT64_FORMAT " days", days);
}

struct usage_name {
	const char *name;
	const char *words;
};

/* RFC 5280 names, as in OpenSSL's short names of the extended key
 * usages and in the field names of KeyUsage. */
static const struct usage_name usage_names[] = {
	{"digitalSignature", "Digital signature"},
	{"nonRepudiation", "Non-repudiation"},
	{"contentCommitment", "Non-repudiation"},
	{"keyEncipherment", "Key encipherment"},
	{"dataEncipherment", "Data encipherment"},
	{"keyAgreement", "Key agreement"},
	{"keyCertSign", "Certificate signing"},
	{"cRLSign", "CRL signing"},
	{"encipherOnly", "Encipher only"},
	{"decipherOnly", "Decipher only"},
	{"clientAuth", "TLS client authentication"},
	{"serverAuth", "TLS server authentication"},
	{"emailProtection", "E-mail protection"},
	{"codeSigning", "Code signing"},
	{"timeStamping", "Time stamping"},
	{"OCSPSigning", "OCSP signing"},
	{"anyExtendedKeyUsage", "Any purpose"},
};

char *
picker_text_usage(const char *name)
{
	for (size_t i = 0; i < G_N_ELEMENTS(usage_names); i++) {
		if (strcmp(usage_names[i].name, name) == 0)
			return g_strdup(usage_names[i].words);
	}
	return picker_text_clean(name, 80);
}

char *
picker_text_fingerprint(const char *fingerprint)
{
	/* 16 pairs and their colons make the first line. */
	size_t half = 16 * 3 - 1;
	g_autofree char *clean = picker_text_clean(fingerprint, 120);

	if (strlen(clean) <= half + 1 || !g_str_is_ascii(clean))
		return g_steal_pointer(&clean);
	return g_strdup_printf("%.*s\n%s", (int)half, clean, clean + half + 1);
}

char *
picker_text_count(uint64_t count)
{
	g_autofree char *digits = g_strdup_printf("%" G_GUINT64_FORMAT, count);
	size_t n = strlen(digits);
	GString *text = g_string_sized_new(n + n / 3);

	for (size_t i = 0; i < n; i++) {
		if (i > 0 && (n - i) % 3 == 0)
			g_string_append_c(text, ',');
		g_string_append_c(text, digits[i]);
	}
	return g_string_free(text, FALSE);
}

char *
picker_text_excluded_title(size_t listed, uint64_t omitted)
{
	uint64_t count = (uint64_t)listed + omitted;
	g_autofree char *total = picker_text_count(count);
	g_autofree char *left_out = picker_text_count(omitted);
	const char *noun = count == 1 ? "certificate" : "certificates";

	if (omitted == 0)
		return g_strdup_printf("%s %s not accepted by this server",
				       total, noun);
	if (listed == 0)
		return g_strdup_printf("%s %s not accepted by this server, "
				       "none listed",
				       total, noun);
	return g_strdup_printf("%s %s not accepted by this server, %s not "
			       "listed",
			       total, noun, left_out);
}

char *
picker_text_omitted_eligible(uint64_t count)
{
	g_autofree char *number = picker_text_count(count);
	const char *noun = count == 1 ? "certificate is" : "certificates are";

	return g_strdup_printf("%s more eligible %s not listed. Run “certpick "
			       "match” to see all.",
			       number, noun);
}

char *
picker_text_retry(const char *reason, int64_t tries_left)
{
	const char *what =
		strcmp(reason, "wrong-pin") == 0 ? "PIN" : "passphrase";

	if (tries_left < 0)
		return g_strdup_printf("Wrong %s. Try again.", what);
	if (tries_left == 1)
		return g_strdup_printf("Wrong %s. 1 try left.", what);
	return g_strdup_printf("Wrong %s. %" G_GINT64_FORMAT " tries left.",
			       what, tries_left);
}

char *
picker_text_countdown(int64_t seconds)
{
	if (seconds < 0)
		seconds = 0;
	return g_strdup_printf("%" G_GINT64_FORMAT ":%02" G_GINT64_FORMAT,
			       seconds / 60, seconds % 60);
}
