/* The picker's words and request parsing, without a display: reasons in
 * words, key types, storage, expiry warnings, telling identities of the
 * same name apart, hiding control characters, and the rules of a Choose
 * request that the IDL cannot state. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <glib.h>

#include "picker-request.h"
#include "picker-text.h"

/* A candidate that the tests adjust, freed with picker_candidate_free. */
static struct picker_candidate *
candidate_new(const char *label, const char *serial, const char *fingerprint)
{
	struct picker_candidate *c = g_new0(struct picker_candidate, 1);
	char *empty[] = {NULL};

	c->id = g_strdup(fingerprint);
	c->label = g_strdup(label);
	c->subject = g_strdup("CN=Alice,O=Example");
	c->common_name = g_strdup("Alice");
	c->issuer = g_strdup("CN=Example CA,O=Example");
	c->issuer_common_name = g_strdup("Example CA");
	c->serial = g_strdup(serial);
	c->not_before = g_strdup("2024-01-01T00:00:00Z");
	c->not_after = g_strdup("2030-06-15T12:00:00Z");
	c->sha256_fingerprint = g_strdup(fingerprint);
	c->key_type = g_strdup("EC");
	c->key_bits = 256;
	c->curve = g_strdup("P-256");
	c->key_usage = g_strdupv(empty);
	c->extended_key_usage = g_strdupv(empty);
	c->emails = g_strdupv(empty);
	c->source_kind = g_strdup("file");
	c->source = g_strdup("/home/alice/alice.p12");
	c->chain_subjects = g_strdupv(empty);
	c->eligible = true;
	c->reasons = g_strdupv(empty);
	c->display_name = picker_text_display_name(c);
	return c;
}

static GDateTime *
utc(const char *text)
{
	g_autoptr(GTimeZone) zone = g_time_zone_new_utc();

	return g_date_time_new_from_iso8601(text, zone);
}

static void
clean_hides_controls_and_bidi(void **state)
{
	/* U+202E RIGHT-TO-LEFT OVERRIDE would show "gpj.exe" as "exe.jpg". */
	char *clean = picker_text_clean("a\nb\x1b[31m\u202egpj.exe", 100);

	assert_string_equal(clean, "a\uFFFDb\uFFFD[31m\uFFFDgpj.exe");
	g_free(clean);

	clean = picker_text_clean("Jürgen Müller – Δοκιμή 証明書", 100);
	assert_string_equal(clean, "Jürgen Müller – Δοκιμή 証明書");
	g_free(clean);
}

static void
clean_truncates_long_text(void **state)
{
	char *clean = picker_text_clean("äbcdefghij", 4);

	assert_string_equal(clean, "äbcd…");
	g_free(clean);
}

static void
display_name_falls_back(void **state)
{
	struct picker_candidate *c = candidate_new("", "10", "AA");

	assert_string_equal(c->display_name, "Alice");
	g_free(c->common_name);
	c->common_name = g_strdup("");
	g_free(c->display_name);
	c->display_name = picker_text_display_name(c);
	assert_string_equal(c->display_name, "CN=Alice,O=Example");
	picker_candidate_free(c);
}

static void
same_names_told_apart_by_serial(void **state)
{
	struct picker_candidate *c[3] = {
		candidate_new("Alice", "1007", "AA:BB:CC:DD:EE"),
		candidate_new("Alice", "1005", "AA:BB:CC:DD:FF"),
		candidate_new("Bob", "1007", "11:22:33:44:55"),
	};

	picker_text_tell_apart(c, 3);
	assert_string_equal(c[0]->distinction, "Serial 1007");
	assert_string_equal(c[1]->distinction, "Serial 1005");
	assert_null(c[2]->distinction);
	for (int i = 0; i < 3; i++)
		picker_candidate_free(c[i]);
}

static void
same_serials_told_apart_by_fingerprint(void **state)
{
	struct picker_candidate *c[2] = {
		candidate_new("Alice", "1007", "AA:BB:CC:DD:EE:01:02"),
		candidate_new("Alice", "1007", "AA:BB:CC:DD:FF:01:02"),
	};

	picker_text_tell_apart(c, 2);
	assert_string_equal(c[0]->distinction, "SHA-256 AA:BB:CC:DD:EE");
	assert_string_equal(c[1]->distinction, "SHA-256 AA:BB:CC:DD:FF");
	for (int i = 0; i < 2; i++)
		picker_candidate_free(c[i]);
}

static void
long_serials_told_apart_by_fingerprint(void **state)
{
	struct picker_candidate *c[2] = {
		candidate_new("Alice", "4F2A9C0B7D1E3A5C6B8D9E0F1A2B3C4D",
			      "01:02:03:04:05"),
		candidate_new("Alice", "7E2A9C0B7D1E3A5C6B8D9E0F1A2B3C4D",
			      "09:02:03:04:05"),
	};

	picker_text_tell_apart(c, 2);
	assert_string_equal(c[0]->distinction, "SHA-256 01:02:03:04");
	assert_string_equal(c[1]->distinction, "SHA-256 09:02:03:04");
	for (int i = 0; i < 2; i++)
		picker_candidate_free(c[i]);
}

static void
key_types_in_words(void **state)
{
	struct picker_candidate *c = candidate_new("A", "1", "AA");
	char *text = picker_text_key(c);

	assert_string_equal(text, "EC P-256");
	g_free(text);

	g_free(c->key_type);
	c->key_type = g_strdup("RSA");
	c->key_bits = 3072;
	g_clear_pointer(&c->curve, g_free);
	text = picker_text_key(c);
	assert_string_equal(text, "RSA 3072-bit");
	g_free(text);

	g_free(c->key_type);
	c->key_type = g_strdup("ED25519");
	text = picker_text_key(c);
	assert_string_equal(text, "Ed25519");
	g_free(text);
	picker_candidate_free(c);
}

static void
storage_names_the_token(void **state)
{
	struct picker_candidate *c = candidate_new("A", "1", "AA");
	char *text = picker_text_storage(c);

	assert_string_equal(text, "Stored in a file");
	g_free(text);

	g_free(c->source_kind);
	c->source_kind = g_strdup("pkcs11");
	g_free(c->source);
	c->source = g_strdup("pkcs11:model=PKCS%2315;token=Alice%27s%20Key;"
			     "object=auth?pin-source=file:/x");
	text = picker_text_storage(c);
	assert_string_equal(text, "On the token “Alice's Key”");
	g_free(text);

	g_free(c->source);
	c->source = g_strdup("pkcs11:object=auth");
	text = picker_text_storage(c);
	assert_string_equal(text, "On a security token");
	g_free(text);
	picker_candidate_free(c);
}

static void
reasons_in_words(void **state)
{
	static const struct {
		const char *code;
		const char *words;
	} cases[] = {
		{"issuer-not-accepted",
		 "Not issued by an authority this server accepts"},
		{"expired", "Expired on 15 Jun 2030"},
		{"not-yet-valid", "Not valid until 1 Jan 2024"},
		{"no-client-auth-eku",
		 "Not meant for TLS client authentication"},
		{"key-usage-lacks-digital-signature",
		 "Its key usage does not allow signing"},
		{"key-type-not-accepted",
		 "This server does not accept EC P-256 keys"},
		{"key-unavailable",
		 "The private key is missing or cannot be read"},
		{"something-new", "Not accepted (something-new)"},
	};
	struct picker_candidate *c = candidate_new("A", "1", "AA");

	for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
		char *text = picker_text_reason(c, cases[i].code);

		assert_string_equal(text, cases[i].words);
		g_free(text);
	}
	picker_candidate_free(c);
}

static void
expiry_warns_when_near(void **state)
{
	static const struct {
		const char *now;
		const char *words;
		bool warn;
	} cases[] = {
		{"2025-01-01T00:00:00Z", "Expires 15 Jun 2030", false},
		{"2030-05-01T00:00:00Z", "Expires 15 Jun 2030", false},
		{"2030-06-01T00:00:00Z", "Expires in 14 days", true},
		{"2030-06-14T06:00:00Z", "Expires tomorrow", true},
		{"2030-06-15T06:00:00Z", "Expires today", true},
		{"2030-07-01T00:00:00Z", "Expired on 15 Jun 2030", true},
		{"2023-07-01T00:00:00Z", "Valid from 1 Jan 2024", true},
	};
	struct picker_candidate *c = candidate_new("A", "1", "AA");

	for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
		GDateTime *now = utc(cases[i].now);
		bool warn = !cases[i].warn;
		char *text = picker_text_expiry(c, now, &warn);

		assert_string_equal(text, cases[i].words);
		assert_int_equal(warn, cases[i].warn);
		g_free(text);
		g_date_time_unref(now);
	}
	picker_candidate_free(c);
}

static void
usages_in_words(void **state)
{
	char *text = picker_text_usage("clientAuth");

	assert_string_equal(text, "TLS client authentication");
	g_free(text);
	text = picker_text_usage("digitalSignature");
	assert_string_equal(text, "Digital signature");
	g_free(text);
	text = picker_text_usage("1.3.6.1.4.1.311.20.2.2");
	assert_string_equal(text, "1.3.6.1.4.1.311.20.2.2");
	g_free(text);
}

static void
fingerprint_in_two_lines(void **state)
{
	const char *fingerprint =
		"00:01:02:03:04:05:06:07:08:09:0A:0B:0C:0D:0E:0F:"
		"10:11:12:13:14:15:16:17:18:19:1A:1B:1C:1D:1E:1F";
	char *text = picker_text_fingerprint(fingerprint);

	assert_string_equal(text,
			    "00:01:02:03:04:05:06:07:08:09:0A:0B:0C:0D:0E:0F\n"
			    "10:11:12:13:14:15:16:17:18:19:1A:1B:1C:1D:1E:1F");
	g_free(text);
}

static void
retry_and_countdown_texts(void **state)
{
	char *text = picker_text_retry("wrong-passphrase", 2);

	assert_string_equal(text, "Wrong passphrase. 2 tries left.");
	g_free(text);
	text = picker_text_retry("wrong-passphrase", 1);
	assert_string_equal(text, "Wrong passphrase. 1 try left.");
	g_free(text);
	text = picker_text_retry("wrong-pin", -1);
	assert_string_equal(text, "Wrong PIN. Try again.");
	g_free(text);

	text = picker_text_countdown(125);
	assert_string_equal(text, "2:05");
	g_free(text);
	text = picker_text_excluded_title(1, 0);
	assert_string_equal(text, "1 certificate not accepted by this server");
	g_free(text);
	text = picker_text_excluded_title(3, 0);
	assert_string_equal(text, "3 certificates not accepted by this server");
	g_free(text);
}

static void
omitted_texts(void **state)
{
	static const struct {
		uint64_t count;
		const char *text;
	} counts[] = {
		{0, "0"},
		{999, "999"},
		{1000, "1,000"},
		{1234567, "1,234,567"},
		{UINT64_MAX, "18,446,744,073,709,551,615"},
	};
	char *text;

	for (size_t i = 0; i < G_N_ELEMENTS(counts); i++) {
		text = picker_text_count(counts[i].count);
		assert_string_equal(text, counts[i].text);
		g_free(text);
	}

	text = picker_text_excluded_title(50, 1150);
	assert_string_equal(text, "1,200 certificates not accepted by this "
				  "server, 1,150 not listed");
	g_free(text);
	text = picker_text_excluded_title(0, 1);
	assert_string_equal(text, "1 certificate not accepted by this "
				  "server, none listed");
	g_free(text);
	text = picker_text_omitted_eligible(40);
	assert_string_equal(text, "40 more eligible certificates are not "
				  "listed. Run “certpick match” to see all.");
	g_free(text);
	text = picker_text_omitted_eligible(1);
	assert_string_equal(text, "1 more eligible certificate is not "
				  "listed. Run “certpick match” to see all.");
	g_free(text);
}

/* A Choose request with the given candidates, as JSON. */
static json_t *
choose_json(json_t *candidates, const char *scope, int port)
{
	return json_pack("{sI s{sIssss} s{sssIsnsn} sb so sn sI sn s[s]}",
			 "dialog", (json_int_t)3, "requester", "pid",
			 (json_int_t)42, "name", "curl", "executable", "",
			 "server", "host", "::1", "port", (json_int_t)port,
			 "organization", "common_name", "ca_names_given", 1,
			 "candidates", candidates, "preselected", "timeout",
			 (json_int_t)30, "parent_window", "remember_scopes",
			 scope);
}

static json_t *
candidate_json(const char *id, bool eligible)
{
	return json_pack(
		"{ss ss ss ss ss ss ss ss ss ss ss sI sn s[] s[] s[] ss ss sb "
		"s[] sb s[]}",
		"id", id, "label", id, "subject", "CN=x", "common_name", "x",
		"issuer", "CN=y", "issuer_common_name", "y", "serial", "1",
		"not_before", "2024-01-01T00:00:00Z", "not_after",
		"2030-01-01T00:00:00Z", "sha256_fingerprint", "AA", "key_type",
		"EC", "key_bits", (json_int_t)256, "curve", "key_usage",
		"extended_key_usage", "emails", "source_kind", "file", "source",
		"/x", "locked", 0, "chain_subjects", "eligible", eligible,
		"reasons");
}

static void
request_puts_eligible_first(void **state)
{
	json_t *parameters = choose_json(
		json_pack("[ooo]", candidate_json("a", false),
			  candidate_json("b", true), candidate_json("c", true)),
		"always", 443);
	char bad[64] = "";
	struct picker_request *request =
		picker_request_from_json(parameters, bad, sizeof(bad));
	char *server;

	assert_non_null(request);
	assert_int_equal(request->n_candidates, 3);
	assert_int_equal(request->n_eligible, 2);
	assert_string_equal(request->candidates[0]->id, "b");
	assert_string_equal(request->candidates[1]->id, "c");
	assert_string_equal(request->candidates[2]->id, "a");
	assert_int_equal(request->scopes, PICKER_SCOPE_ALWAYS);
	assert_null(request->preselected);
	assert_ptr_equal(picker_request_find(request, "c"),
			 request->candidates[1]);
	server = picker_request_server_text(request);
	assert_string_equal(server, "[::1]:443");
	g_free(server);
	picker_request_free(request);
	json_decref(parameters);
}

static void
request_rejects_what_idl_cannot(void **state)
{
	static const struct {
		const char *scope;
		int port;
		bool duplicate;
		const char *bad;
	} cases[] = {
		{"forever", 443, false, "remember_scopes[0]"},
		{"once", 70000, false, "server.port"},
		{"once", 443, true, "candidates[1].id"},
	};

	for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
		json_t *parameters = choose_json(
			json_pack("[oo]", candidate_json("a", true),
				  candidate_json(cases[i].duplicate ? "a" : "b",
						 true)),
			cases[i].scope, cases[i].port);
		char bad[64] = "";

		assert_null(
			picker_request_from_json(parameters, bad, sizeof(bad)));
		assert_string_equal(bad, cases[i].bad);
		json_decref(parameters);
	}
}

static void
request_rejects_timeout_over_max(void **state)
{
	static const json_int_t timeouts[] = {86401, INT64_MAX};

	for (size_t i = 0; i < G_N_ELEMENTS(timeouts); i++) {
		json_t *parameters =
			choose_json(json_pack("[o]", candidate_json("a", true)),
				    "once", 443);
		char bad[64] = "";

		json_object_set_new(parameters, "timeout",
				    json_integer(timeouts[i]));
		assert_null(
			picker_request_from_json(parameters, bad, sizeof(bad)));
		assert_string_equal(bad, "timeout");
		json_decref(parameters);
	}
}

static void
request_reads_omitted_counts(void **state)
{
	static const char *const keys[] = {"omitted_eligible",
					   "omitted_excluded"};
	json_t *parameters = choose_json(
		json_pack("[o]", candidate_json("a", true)), "once", 443);
	char bad[64] = "";
	struct picker_request *request =
		picker_request_from_json(parameters, bad, sizeof(bad));

	assert_non_null(request);
	assert_int_equal(request->omitted_eligible, 0);
	assert_int_equal(request->omitted_excluded, 0);
	picker_request_free(request);

	json_object_set_new(parameters, "omitted_eligible", json_integer(40));
	json_object_set_new(parameters, "omitted_excluded", json_integer(1150));
	request = picker_request_from_json(parameters, bad, sizeof(bad));
	assert_non_null(request);
	assert_int_equal(request->omitted_eligible, 40);
	assert_int_equal(request->omitted_excluded, 1150);
	picker_request_free(request);
	json_decref(parameters);

	for (size_t i = 0; i < G_N_ELEMENTS(keys); i++) {
		parameters =
			choose_json(json_pack("[o]", candidate_json("a", true)),
				    "once", 443);
		json_object_set_new(parameters, keys[i], json_integer(-1));
		assert_null(
			picker_request_from_json(parameters, bad, sizeof(bad)));
		assert_string_equal(bad, keys[i]);
		json_decref(parameters);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(clean_hides_controls_and_bidi),
		cmocka_unit_test(clean_truncates_long_text),
		cmocka_unit_test(display_name_falls_back),
		cmocka_unit_test(same_names_told_apart_by_serial),
		cmocka_unit_test(same_serials_told_apart_by_fingerprint),
		cmocka_unit_test(long_serials_told_apart_by_fingerprint),
		cmocka_unit_test(key_types_in_words),
		cmocka_unit_test(storage_names_the_token),
		cmocka_unit_test(reasons_in_words),
		cmocka_unit_test(expiry_warns_when_near),
		cmocka_unit_test(usages_in_words),
		cmocka_unit_test(fingerprint_in_two_lines),
		cmocka_unit_test(retry_and_countdown_texts),
		cmocka_unit_test(omitted_texts),
		cmocka_unit_test(request_puts_eligible_first),
		cmocka_unit_test(request_rejects_what_idl_cannot),
		cmocka_unit_test(request_rejects_timeout_over_max),
		cmocka_unit_test(request_reads_omitted_counts),
	};

	/* Dates show in local time; UTC keeps the expected days fixed. */
	g_setenv("TZ", "UTC", TRUE);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
