/* Tests of the matcher. A table gives the expected verdict for every leaf
 * of the test PKI against several CA name lists and signature scheme
 * lists, one test per case. Further tests cover the order of the result,
 * canonical name matching and intermediates taken from other identities. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/x509v3.h>

#include "matcher.h"
#include "support.h"

enum {
	I = CP_REASON_ISSUER_NOT_ACCEPTED,
	E = CP_REASON_EXPIRED,
	N = CP_REASON_NOT_YET_VALID,
	X = CP_REASON_NO_CLIENT_AUTH_EKU,
	K = CP_REASON_KEY_USAGE_LACKS_DIGITAL_SIGNATURE,
	T = CP_REASON_KEY_TYPE_NOT_ACCEPTED,
	U = CP_REASON_KEY_UNAVAILABLE,
};

/* The leaves of tests/pki/make-pki.sh, and one made here whose identity
 * file has no key. Leaves that "inter" issued carry it in their chain. */
static const char *const leaf_names[] = {
	"rsa2048",	"rsa3072",	   "p256",	 "p384",
	"ed25519",	"no-eku",	   "any-eku",	 "utf8",
	"expired",	"not-yet-valid",   "server-eku", "key-encipherment",
	"other-issuer", "key-unavailable",
};
#define N_LEAVES (sizeof(leaf_names) / sizeof(leaf_names[0]))

/* Expected reasons per CA name list. */
static const struct {
	const char *leaf;
	unsigned root, inter, other_root, empty, absent;
} ca_table[] = {
	{"rsa2048", 0, 0, I, 0, 0},
	{"rsa3072", 0, I, I, 0, 0},
	{"p256", 0, 0, I, 0, 0},
	{"p384", 0, I, I, 0, 0},
	{"ed25519", 0, I, I, 0, 0},
	{"no-eku", 0, I, I, 0, 0},
	{"any-eku", 0, I, I, 0, 0},
	{"utf8", 0, 0, I, 0, 0},
	{"expired", E, I | E, I | E, E, E},
	{"not-yet-valid", N, I | N, I | N, N, N},
	{"server-eku", X, I | X, I | X, X, X},
	{"key-encipherment", K, I | K, I | K, K, K},
	{"other-issuer", I, I, 0, 0, 0},
	{"key-unavailable", U, I | U, I | U, U, U},
};

/* Signature scheme lists, all without CA names. */
static const char *const ed25519_only[] = {"ed25519"};
static const char *const rsa_only[] = {"rsa_pss_rsae_sha256",
				       "rsa_pkcs1_sha256"};
static const char *const p256_only[] = {"ecdsa_secp256r1_sha256"};
static const char *const pkcs1_only[] = {"rsa_pkcs1_sha256"};
static const char *const unknown_only[] = {"mldsa65"};

static const struct sigalg_list {
	const char *name;
	const char *const *sigalgs;
	size_t n;
	bool tls13;
} sigalg_lists[] = {
	{"ed25519 (TLS 1.3)", ed25519_only, 1, true},
	{"RSA-PSS and PKCS #1 (TLS 1.3)", rsa_only, 2, true},
	{"ecdsa_secp256r1_sha256 (TLS 1.3)", p256_only, 1, true},
	{"ecdsa_secp256r1_sha256 (TLS 1.2)", p256_only, 1, false},
	{"rsa_pkcs1_sha256 (TLS 1.3)", pkcs1_only, 1, true},
	{"rsa_pkcs1_sha256 (TLS 1.2)", pkcs1_only, 1, false},
	{"an unknown scheme only", unknown_only, 1, true},
};
#define N_SIGALG_LISTS (sizeof(sigalg_lists) / sizeof(sigalg_lists[0]))

/* Expected reasons per signature scheme list, in sigalg_lists order. */
static const struct {
	const char *leaf;
	unsigned expected[N_SIGALG_LISTS];
} sigalg_table[] = {
	{"rsa2048", {T, 0, T, T, T, 0, T}},
	{"rsa3072", {T, 0, T, T, T, 0, T}},
	{"p256", {T, T, 0, 0, T, T, T}},
	{"p384", {T, T, T, 0, T, T, T}},
	{"ed25519", {0, T, T, T, T, T, T}},
	{"no-eku", {T, T, 0, 0, T, T, T}},
	{"any-eku", {T, T, 0, 0, T, T, T}},
	{"utf8", {T, T, 0, 0, T, T, T}},
	{"expired", {T | E, T | E, E, E, T | E, T | E, T | E}},
	{"not-yet-valid", {T | N, T | N, N, N, T | N, T | N, T | N}},
	{"server-eku", {T | X, T | X, X, X, T | X, T | X, T | X}},
	{"key-encipherment", {T | K, K, T | K, T | K, T | K, K, T | K}},
	{"other-issuer", {T, T, 0, 0, T, T, T}},
	{"key-unavailable", {T | U, T | U, U, U, T | U, T | U, T | U}},
};

/* The PKI store, shared by every case. */
static struct cp_store *pki_store;
static char *pki_store_dir;
static char leaf_ids[N_LEAVES][CP_IDENTITY_ID_SIZE];

static X509_NAME *
ca_subject(const char *ca)
{
	char relative[64];
	X509 *certificate;
	X509_NAME *name;

	snprintf(relative, sizeof(relative), "ca/%s.pem", ca);
	certificate = load_pki_certificate(relative);
	name = X509_NAME_dup(X509_get_subject_name(certificate));
	X509_free(certificate);
	return name;
}

/* A leaf that root issued, stored without its key, as when a person
 * deletes the key block from its file. */
static int
add_keyless_identity(const char *dir, char id[CP_IDENTITY_ID_SIZE])
{
	X509 *root = load_pki_certificate("ca/root.pem");
	EVP_PKEY *root_key = load_pki_key("ca/root.key");
	EVP_PKEY *key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	struct mint mint = {
		"Alice Key Unavailable",
		root,
		root_key,
		key,
		time(NULL) - 3600,
		time(NULL) + 365 * 86400,
		false,
	};
	X509 *leaf = mint_certificate(&mint);
	unsigned char digest[32];
	unsigned len = 0;
	int r = write_identity_file(dir, "Alice Key Unavailable", leaf, NULL,
				    NULL);

	X509_digest(leaf, EVP_sha256(), digest, &len);
	for (unsigned i = 0; i < len; i++)
		snprintf(id + 2 * i, 3, "%02x", digest[i]);
	X509_free(leaf);
	X509_free(root);
	EVP_PKEY_free(root_key);
	EVP_PKEY_free(key);
	return r;
}

static int
setup_pki_store(void **state)
{
	char err[1024];

	pki_store_dir = make_temp_dir("certpick-matcher");
	if (cp_store_open(pki_store_dir, &pki_store, err, sizeof(err)) < 0) {
		fprintf(stderr, "%s\n", err);
		return -1;
	}
	for (size_t i = 0; i + 1 < N_LEAVES; i++) {
		char bundle[128];

		snprintf(bundle, sizeof(bundle), "leaves/%s/bundle.pem",
			 leaf_names[i]);
		if (import_pki(pki_store, bundle, NULL, NULL, leaf_ids[i], err,
			       sizeof(err)) < 0) {
			fprintf(stderr, "%s\n", err);
			return -1;
		}
	}
	if (add_keyless_identity(pki_store_dir, leaf_ids[N_LEAVES - 1]) < 0 ||
	    cp_store_refresh(pki_store, err, sizeof(err)) < 0)
		return -1;
	return cp_store_count(pki_store) == N_LEAVES ? 0 : -1;
}

static int
teardown_pki_store(void **state)
{
	cp_store_free(pki_store);
	remove_tree(pki_store_dir);
	free(pki_store_dir);
	return 0;
}

static const char *
leaf_id(const char *leaf)
{
	for (size_t i = 0; i < N_LEAVES; i++)
		if (strcmp(leaf_names[i], leaf) == 0)
			return leaf_ids[i];
	fail_msg("unknown leaf %s", leaf);
	return NULL;
}

/* Formats reason bits as their codes, for messages that name them. */
static const char *
codes(unsigned reasons, char *buffer, size_t size)
{
	size_t n = 0;

	buffer[0] = '\0';
	for (int i = 0; i < CP_REASON_COUNT; i++)
		if (reasons & (1u << i))
			n += (size_t)snprintf(buffer + n, size - n, "%s%s",
					      n ? " " : "",
					      cp_reason_code(1u << i));
	if (n == 0)
		snprintf(buffer, size, "eligible");
	return buffer;
}

/* Runs a request and returns the reasons for one leaf's identity. It
 * also checks that cp_match_identity judges every identity as cp_match
 * does. */
static unsigned
reasons_for(const char *leaf, const struct cp_match_request *request)
{
	const char *id = leaf_id(leaf);
	struct cp_verdict *verdicts = NULL;
	ssize_t n = cp_match(pki_store, request, &verdicts);
	unsigned reasons = ~0u;

	assert_int_equal(n, N_LEAVES);
	for (ssize_t i = 0; i < n; i++) {
		assert_int_equal(cp_match_identity(pki_store, request,
						   verdicts[i].identity),
				 verdicts[i].reasons);
		if (strcmp(cp_identity_id(verdicts[i].identity), id) == 0)
			reasons = verdicts[i].reasons;
	}
	free(verdicts);
	return reasons;
}

struct verdict_case {
	const char *leaf;
	const char *ca; /* a CA of the PKI, "" for none, NULL */
	const struct sigalg_list *sigalgs; /* NULL: any */
	unsigned expected;
};

static void
test_verdict(void **state)
{
	const struct verdict_case *c = *state;
	STACK_OF(X509_NAME) *names = NULL;
	struct cp_match_request request = {0};
	char actual[256], expected[256];
	unsigned reasons;

	if (c->ca) {
		names = sk_X509_NAME_new_null();
		if (c->ca[0])
			sk_X509_NAME_push(names, ca_subject(c->ca));
	}
	request.ca_names = names;
	if (c->sigalgs) {
		request.sigalgs = c->sigalgs->sigalgs;
		request.n_sigalgs = c->sigalgs->n;
		request.tls13 = c->sigalgs->tls13;
	}
	reasons = reasons_for(c->leaf, &request);
	sk_X509_NAME_pop_free(names, X509_NAME_free);

	assert_string_equal(codes(reasons, actual, sizeof(actual)),
			    codes(c->expected, expected, sizeof(expected)));
}

static void
test_ca_names_given(void **state)
{
	STACK_OF(X509_NAME) *empty = sk_X509_NAME_new_null();
	STACK_OF(X509_NAME) *root = sk_X509_NAME_new_null();
	struct cp_match_request absent_request = {0};
	struct cp_match_request empty_request = {.ca_names = empty};
	struct cp_match_request root_request = {.ca_names = root};

	sk_X509_NAME_push(root, ca_subject("root"));
	assert_false(cp_match_ca_names_given(&absent_request));
	assert_false(cp_match_ca_names_given(&empty_request));
	assert_true(cp_match_ca_names_given(&root_request));
	sk_X509_NAME_free(empty);
	sk_X509_NAME_pop_free(root, X509_NAME_free);
}

/* X509_NAME_cmp compares canonical encodings: case and runs of spaces do
 * not count, nor does the string type. */
static void
test_canonical_name_match(void **state)
{
	X509_NAME *variant = X509_NAME_new();
	STACK_OF(X509_NAME) *names = sk_X509_NAME_new_null();
	struct cp_match_request request = {.ca_names = names};

	X509_NAME_add_entry_by_txt(variant, "O", MBSTRING_ASC,
				   (const unsigned char *)"CERTPICK   Test", -1,
				   -1, 0);
	X509_NAME_add_entry_by_txt(
		variant, "CN", MBSTRING_ASC,
		(const unsigned char *)"  certpick test ROOT ca ", -1, -1, 0);
	sk_X509_NAME_push(names, variant);

	assert_int_equal(reasons_for("p384", &request), 0);
	assert_int_equal(reasons_for("p256", &request), 0);
	assert_int_equal(reasons_for("other-issuer", &request),
			 CP_REASON_ISSUER_NOT_ACCEPTED);
	sk_X509_NAME_pop_free(names, X509_NAME_free);
}

static void
test_every_identity_once(void **state)
{
	struct cp_match_request request = {0};
	struct cp_verdict *verdicts = NULL;
	ssize_t n = cp_match(pki_store, &request, &verdicts);

	assert_int_equal(n, N_LEAVES);
	for (size_t i = 0; i < N_LEAVES; i++) {
		int seen = 0;

		for (ssize_t j = 0; j < n; j++)
			seen += strcmp(cp_identity_id(verdicts[j].identity),
				       leaf_ids[i]) == 0;
		assert_int_equal(seen, 1);
	}
	free(verdicts);
}

/* Eligible identities first, by notAfter from latest to earliest. */
static void
test_pki_order(void **state)
{
	struct cp_match_request request = {0};
	struct cp_verdict *verdicts = NULL;
	ssize_t n = cp_match(pki_store, &request, &verdicts);
	ssize_t eligible = 0;

	assert_int_equal(n, N_LEAVES);
	while (eligible < n && verdicts[eligible].reasons == 0)
		eligible++;
	for (ssize_t i = eligible; i < n; i++)
		assert_int_not_equal(verdicts[i].reasons, 0);
	for (ssize_t i = 0; i + 1 < eligible; i++) {
		X509 *a = cp_identity_leaf(verdicts[i].identity);
		X509 *b = cp_identity_leaf(verdicts[i + 1].identity);

		assert_true(ASN1_TIME_compare(X509_get0_notAfter(a),
					      X509_get0_notAfter(b)) >= 0);
	}
	free(verdicts);
}

static void
test_reason_codes(void **state)
{
	assert_string_equal(cp_reason_code(CP_REASON_ISSUER_NOT_ACCEPTED),
			    "issuer-not-accepted");
	assert_string_equal(cp_reason_code(CP_REASON_EXPIRED), "expired");
	assert_string_equal(cp_reason_code(CP_REASON_NOT_YET_VALID),
			    "not-yet-valid");
	assert_string_equal(cp_reason_code(CP_REASON_NO_CLIENT_AUTH_EKU),
			    "no-client-auth-eku");
	assert_string_equal(
		cp_reason_code(CP_REASON_KEY_USAGE_LACKS_DIGITAL_SIGNATURE),
		"key-usage-lacks-digital-signature");
	assert_string_equal(cp_reason_code(CP_REASON_KEY_TYPE_NOT_ACCEPTED),
			    "key-type-not-accepted");
	assert_string_equal(cp_reason_code(CP_REASON_KEY_UNAVAILABLE),
			    "key-unavailable");
	assert_null(
		cp_reason_code(CP_REASON_EXPIRED | CP_REASON_KEY_UNAVAILABLE));
	assert_null(cp_reason_code(0));
}

static void
test_verdict_json(void **state)
{
	struct cp_verdict excluded = {NULL, CP_REASON_EXPIRED |
						    CP_REASON_KEY_UNAVAILABLE};
	struct cp_verdict eligible = {NULL, 0};
	json_t *object = json_object();
	json_t *reasons;

	assert_int_equal(cp_verdict_add_json(&excluded, object), 0);
	assert_true(json_is_false(json_object_get(object, "eligible")));
	reasons = json_object_get(object, "reasons");
	assert_int_equal(json_array_size(reasons), 2);
	assert_string_equal(json_string_value(json_array_get(reasons, 0)),
			    "expired");
	assert_string_equal(json_string_value(json_array_get(reasons, 1)),
			    "key-unavailable");

	assert_int_equal(cp_verdict_add_json(&eligible, object), 0);
	assert_true(json_is_true(json_object_get(object, "eligible")));
	assert_int_equal(json_array_size(json_object_get(object, "reasons")),
			 0);
	json_decref(object);
}

/* A store made on the spot with dates chosen so that each ordering rule
 * decides one pair. */
struct order_fixture {
	char *dir;
	struct cp_store *store;
};

static time_t
year(int y)
{
	struct tm tm = {.tm_year = y - 1900, .tm_mday = 1};

	return timegm(&tm);
}

static void
mint_into(const char *dir, const char *label, time_t not_before,
	  time_t not_after, bool with_intermediate, bool server_eku)
{
	X509 *root = load_pki_certificate("ca/root.pem");
	X509 *inter = load_pki_certificate("ca/inter.pem");
	EVP_PKEY *root_key = load_pki_key("ca/root.key");
	EVP_PKEY *inter_key = load_pki_key("ca/inter.key");
	EVP_PKEY *key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	struct mint mint = {label,
			    with_intermediate ? inter : root,
			    with_intermediate ? inter_key : root_key,
			    key,
			    not_before,
			    not_after,
			    false};
	X509 *leaf = mint_certificate(&mint);
	STACK_OF(X509) *chain = sk_X509_new_null();

	if (with_intermediate)
		sk_X509_push(chain, inter);
	if (server_eku) {
		/* Replace clientAuth by serverAuth. */
		int index = X509_get_ext_by_NID(leaf, NID_ext_key_usage, -1);
		X509_EXTENSION *old = X509_delete_ext(leaf, index);
		X509_EXTENSION *serverauth = X509V3_EXT_conf_nid(
			NULL, NULL, NID_ext_key_usage, "serverAuth");

		X509_EXTENSION_free(old);
		X509_add_ext(leaf, serverauth, -1);
		X509_EXTENSION_free(serverauth);
		X509_sign(leaf, root_key, EVP_sha256());
	}
	assert_int_equal(write_identity_file(dir, label, leaf, chain, key), 0);
	sk_X509_free(chain);
	X509_free(leaf);
	X509_free(root);
	X509_free(inter);
	EVP_PKEY_free(root_key);
	EVP_PKEY_free(inter_key);
	EVP_PKEY_free(key);
}

static int
setup_order(void **state)
{
	struct order_fixture *fixture = calloc(1, sizeof(*fixture));
	char err[1024];

	fixture->dir = make_temp_dir("certpick-order");
	mint_into(fixture->dir, "A", year(2020), year(2040), false, false);
	mint_into(fixture->dir, "B later notAfter", year(2020), year(2045),
		  false, false);
	mint_into(fixture->dir, "C newer notBefore", year(2022), year(2040),
		  false, false);
	mint_into(fixture->dir, "D longer chain", year(2020), year(2040), true,
		  false);
	mint_into(fixture->dir, "E tie with A", year(2020), year(2040), false,
		  false);
	mint_into(fixture->dir, "F not yet valid", year(2090), year(2095),
		  false, false);
	mint_into(fixture->dir, "G server EKU", year(2020), year(2030), false,
		  true);
	if (cp_store_open(fixture->dir, &fixture->store, err, sizeof(err)) <
	    0) {
		fprintf(stderr, "%s\n", err);
		return -1;
	}
	*state = fixture;
	return 0;
}

static int
teardown_order(void **state)
{
	struct order_fixture *fixture = *state;

	cp_store_free(fixture->store);
	remove_tree(fixture->dir);
	free(fixture->dir);
	free(fixture);
	return 0;
}

/* Eligible: latest notAfter, newest notBefore, shortest chain, store order.
 * Excluded: the one valid now before the one that is not, although its
 * notAfter is later. */
static void
test_order_rules(void **state)
{
	static const char *const expected[] = {
		"B later notAfter", "C newer notBefore", "A",
		"E tie with A",	    "D longer chain",	 "G server EKU",
		"F not yet valid",
	};
	struct order_fixture *fixture = *state;
	struct cp_match_request request = {0};
	struct cp_verdict *verdicts = NULL;
	ssize_t n = cp_match(fixture->store, &request, &verdicts);

	assert_int_equal(n, 7);
	for (ssize_t i = 0; i < n; i++)
		assert_string_equal(cp_identity_label(verdicts[i].identity),
				    expected[i]);
	free(verdicts);
}

static void
test_order_stable(void **state)
{
	struct order_fixture *fixture = *state;
	struct cp_match_request request = {0};
	struct cp_verdict *first = NULL, *second = NULL;
	ssize_t n = cp_match(fixture->store, &request, &first);

	assert_int_equal(cp_match(fixture->store, &request, &second), n);
	for (ssize_t i = 0; i < n; i++)
		assert_ptr_equal(first[i].identity, second[i].identity);
	free(first);
	free(second);
}

/* p256's certificate alone lacks its intermediate; rsa2048's bundle has
 * it, and the store lends it to p256. */
static void
test_intermediate_from_store(void **state)
{
	char *dir = make_temp_dir("certpick-chain");
	STACK_OF(X509_NAME) *names = sk_X509_NAME_new_null();
	struct cp_match_request request = {.ca_names = names};
	struct cp_verdict *verdicts = NULL;
	struct cp_store *store;
	char id[CP_IDENTITY_ID_SIZE], err[1024];
	struct cp_identity *p256;

	sk_X509_NAME_push(names, ca_subject("root"));
	assert_int_equal(cp_store_open(dir, &store, err, sizeof(err)), 0);
	assert_int_equal(import_pki(store, "formats/separate-cert.pem",
				    "formats/separate-key.pem", NULL, id, err,
				    sizeof(err)),
			 0);

	assert_int_equal(cp_match(store, &request, &verdicts), 1);
	assert_int_equal(verdicts[0].reasons, CP_REASON_ISSUER_NOT_ACCEPTED);
	free(verdicts);

	assert_int_equal(import_pki(store, "leaves/rsa2048/bundle.pem", NULL,
				    NULL, id, err, sizeof(err)),
			 0);
	p256 = find_by_label(store, "Alice P-256");
	assert_non_null(p256);
	assert_int_equal(sk_X509_num(cp_identity_chain(p256)), 1);
	assert_int_equal(cp_match(store, &request, &verdicts), 2);
	assert_int_equal(verdicts[0].reasons, 0);
	assert_int_equal(verdicts[1].reasons, 0);
	free(verdicts);

	sk_X509_NAME_pop_free(names, X509_NAME_free);
	cp_store_free(store);
	remove_tree(dir);
	free(dir);
}

static struct CMUnitTest *
verdict_tests(size_t *count)
{
	size_t n_ca = sizeof(ca_table) / sizeof(ca_table[0]);
	size_t n_sig = sizeof(sigalg_table) / sizeof(sigalg_table[0]);
	size_t total = 5 * n_ca + N_SIGALG_LISTS * n_sig, k = 0;
	struct CMUnitTest *tests = calloc(total, sizeof(*tests));
	struct verdict_case *cases = calloc(total, sizeof(*cases));
	static const char *const ca_lists[] = {"root", "inter", "other-root",
					       "", NULL};

	for (size_t i = 0; i < n_ca; i++) {
		const unsigned expected[] = {
			ca_table[i].root,	ca_table[i].inter,
			ca_table[i].other_root, ca_table[i].empty,
			ca_table[i].absent,
		};

		for (size_t j = 0; j < 5; j++, k++) {
			char *name;

			cases[k] = (struct verdict_case){ca_table[i].leaf,
							 ca_lists[j], NULL,
							 expected[j]};
			if (asprintf(&name, "%s with CA names %s%s%s",
				     ca_table[i].leaf,
				     ca_lists[j] ? "[" : "absent",
				     ca_lists[j] ? ca_lists[j] : "",
				     ca_lists[j] ? "]" : "") < 0)
				abort();
			tests[k] = (struct CMUnitTest){name, test_verdict, NULL,
						       NULL, &cases[k]};
		}
	}
	for (size_t i = 0; i < n_sig; i++)
		for (size_t j = 0; j < N_SIGALG_LISTS; j++, k++) {
			char *name;

			cases[k] = (struct verdict_case){
				sigalg_table[i].leaf, NULL, &sigalg_lists[j],
				sigalg_table[i].expected[j]};
			if (asprintf(&name, "%s with sigalgs %s",
				     sigalg_table[i].leaf,
				     sigalg_lists[j].name) < 0)
				abort();
			tests[k] = (struct CMUnitTest){name, test_verdict, NULL,
						       NULL, &cases[k]};
		}
	*count = total;
	return tests;
}

int
main(void)
{
	const struct CMUnitTest other_tests[] = {
		cmocka_unit_test(test_ca_names_given),
		cmocka_unit_test(test_canonical_name_match),
		cmocka_unit_test(test_every_identity_once),
		cmocka_unit_test(test_pki_order),
		cmocka_unit_test(test_reason_codes),
		cmocka_unit_test(test_verdict_json),
		cmocka_unit_test_setup_teardown(test_order_rules, setup_order,
						teardown_order),
		cmocka_unit_test_setup_teardown(test_order_stable, setup_order,
						teardown_order),
		cmocka_unit_test(test_intermediate_from_store),
	};
	size_t n_verdicts = 0;
	struct CMUnitTest *verdicts = verdict_tests(&n_verdicts);
	const struct verdict_case *cases = verdicts[0].initial_state;
	int failed;

	failed = _cmocka_run_group_tests("verdicts", verdicts, n_verdicts,
					 setup_pki_store, teardown_pki_store);
	failed += _cmocka_run_group_tests("matcher", other_tests,
					  sizeof(other_tests) /
						  sizeof(other_tests[0]),
					  setup_pki_store, teardown_pki_store);

	for (size_t i = 0; i < n_verdicts; i++)
		free((char *)verdicts[i].name);
	free((void *)cases);
	free(verdicts);
	return failed ? 1 : 0;
}
