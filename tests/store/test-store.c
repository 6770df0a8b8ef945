/* Tests of the store itself: its directory and file permissions, where it
 * is by default, reloading, removal, files it skips, identities as JSON
 * checked against the Varlink interfaces, and signing with every key type
 * of the test PKI. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/ecdsa.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include "base64.h"
#include "interfaces.h"
#include "matcher.h"
#include "support.h"
#include "varlink-idl.h"

#define PASSWORD "correct horse battery staple"

struct fixture {
	char *dir;
	struct cp_store *store;
	char id[CP_IDENTITY_ID_SIZE];
	char err[1024];
};

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	f->dir = make_temp_dir("certpick-store");
	if (cp_store_open(f->dir, &f->store, f->err, sizeof(f->err)) < 0)
		return -1;
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;

	cp_store_free(f->store);
	remove_tree(f->dir);
	free(f->dir);
	free(f);
	return 0;
}

static void
import_ok(struct fixture *f, const char *file, const char *key,
	  const char *password)
{
	int r = import_pki(f->store, file, key, password, f->id, f->err,
			   sizeof(f->err));

	if (r < 0)
		fail_msg("importing %s failed: %s", file, f->err);
}

static void
test_creates_private_dir(void **state)
{
	char *base = make_temp_dir("certpick-new");
	char dir[4096], err[1024];
	struct cp_store *store = NULL;
	struct stat st;

	snprintf(dir, sizeof(dir), "%s/a/b/identities", base);
	assert_int_equal(cp_store_open(dir, &store, err, sizeof(err)), 0);
	assert_int_equal(stat(dir, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0700);
	assert_int_equal(cp_store_count(store), 0);
	cp_store_free(store);
	remove_tree(base);
	free(base);
}

static void
test_rejects_writable_dir(void **state)
{
	char *dir = make_temp_dir("certpick-open");
	struct cp_store *store = NULL;
	char err[1024];

	chmod(dir, 0777);
	assert_int_equal(cp_store_open(dir, &store, err, sizeof(err)), -1);
	assert_non_null(strstr(err, dir));
	assert_non_null(strstr(err, "writable by others"));
	assert_non_null(strstr(err, "chmod 700"));

	chmod(dir, 0770);
	assert_int_equal(cp_store_open(dir, &store, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "chmod 700"));

	chmod(dir, 0755);
	assert_int_equal(cp_store_open(dir, &store, err, sizeof(err)), 0);
	cp_store_free(store);
	remove_tree(dir);
	free(dir);
}

/* As root, a directory handed to another user; otherwise "/", which root
 * owns. */
static void
test_rejects_other_owner(void **state)
{
	char *dir = make_temp_dir("certpick-owner");
	const char *target = dir;
	struct cp_store *store = NULL;
	char err[1024];

	if (geteuid() == 0)
		assert_int_equal(chown(dir, 65534, 65534), 0);
	else
		target = "/";
	assert_int_equal(cp_store_open(target, &store, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "owned by uid"));
	assert_non_null(strstr(err, "--store DIR"));
	remove_tree(dir);
	free(dir);
}

static void
test_rejects_writable_file(void **state)
{
	struct fixture *f = *state;
	struct cp_store *store = NULL;
	char path[4096], err[1024];

	import_ok(f, "leaves/p256/bundle.pem", NULL, NULL);
	snprintf(path, sizeof(path), "%s/%s.pem", f->dir, f->id);
	chmod(path, 0666);
	assert_int_equal(cp_store_open(f->dir, &store, err, sizeof(err)), -1);
	assert_non_null(strstr(err, path));
	assert_non_null(strstr(err, "chmod 600"));

	chmod(path, 0644);
	assert_int_equal(cp_store_open(f->dir, &store, err, sizeof(err)), 0);
	assert_int_equal(cp_store_count(store), 1);
	cp_store_free(store);
}

static void
test_default_dir(void **state)
{
	char *saved_store = getenv("CERTPICK_STORE");
	char *saved_xdg = getenv("XDG_DATA_HOME");
	char *saved_home = getenv("HOME");

	saved_store = saved_store ? strdup(saved_store) : NULL;
	saved_xdg = saved_xdg ? strdup(saved_xdg) : NULL;
	saved_home = saved_home ? strdup(saved_home) : NULL;

	setenv("CERTPICK_STORE", "/srv/store", 1);
	setenv("XDG_DATA_HOME", "/xdg", 1);
	setenv("HOME", "/home/alice", 1);
	assert_string_equal(cp_store_default_dir(), "/srv/store");
	unsetenv("CERTPICK_STORE");
	assert_string_equal(cp_store_default_dir(), "/xdg/certpick/identities");
	setenv("XDG_DATA_HOME", "relative", 1); /* ignored, as XDG requires */
	assert_string_equal(cp_store_default_dir(),
			    "/home/alice/.local/share/certpick/identities");
	unsetenv("XDG_DATA_HOME");
	assert_string_equal(cp_store_default_dir(),
			    "/home/alice/.local/share/certpick/identities");

	if (saved_store)
		setenv("CERTPICK_STORE", saved_store, 1);
	if (saved_xdg)
		setenv("XDG_DATA_HOME", saved_xdg, 1);
	if (saved_home)
		setenv("HOME", saved_home, 1);
	free(saved_store);
	free(saved_xdg);
	free(saved_home);
}

/* A second handle on the same directory picks up imports and removals
 * made through the first, however soon after its load they happen. */
static void
test_refresh(void **state)
{
	struct fixture *f = *state;
	struct cp_store *other = NULL;
	char err[1024];

	assert_int_equal(cp_store_open(f->dir, &other, err, sizeof(err)), 0);
	assert_int_equal(cp_store_refresh(other, err, sizeof(err)), 0);

	import_ok(f, "leaves/p256/bundle.pem", NULL, NULL);
	assert_int_equal(cp_store_refresh(other, err, sizeof(err)), 1);
	assert_int_equal(cp_store_count(other), 1);
	assert_int_equal(cp_store_refresh(other, err, sizeof(err)), 0);

	assert_int_equal(cp_store_remove(f->store, f->id, err, sizeof(err)), 0);
	assert_int_equal(cp_store_count(f->store), 0);
	assert_int_equal(cp_store_refresh(other, err, sizeof(err)), 1);
	assert_int_equal(cp_store_count(other), 0);
	cp_store_free(other);
}

/* A reload keeps a key that was unlocked. */
static void
test_refresh_keeps_unlocked_key(void **state)
{
	struct fixture *f = *state;
	char encrypted_id[CP_IDENTITY_ID_SIZE];
	struct cp_store *other = NULL;
	char err[1024];
	int tries;

	import_ok(f, "formats/ed25519.pem",
		  "formats/ed25519-pkcs8-encrypted.key", PASSWORD);
	memcpy(encrypted_id, f->id, sizeof(encrypted_id));
	assert_int_equal(cp_store_open(f->dir, &other, err, sizeof(err)), 0);
	assert_int_equal(cp_identity_unlock(cp_store_find(other, encrypted_id),
					    PASSWORD, &tries, err, sizeof(err)),
			 0);

	import_ok(f, "leaves/p256/bundle.pem", NULL, NULL);
	assert_int_equal(cp_store_refresh(other, err, sizeof(err)), 1);
	assert_false(cp_identity_locked(cp_store_find(other, encrypted_id)));
	cp_store_free(other);
}

static void
test_remove(void **state)
{
	struct fixture *f = *state;
	char err[1024];

	import_ok(f, "leaves/p256/bundle.pem", NULL, NULL);
	assert_int_equal(cp_store_remove(f->store, f->id, err, sizeof(err)), 0);
	assert_int_equal(count_entries(f->dir), 0);
	assert_null(cp_store_find(f->store, f->id));

	assert_int_equal(cp_store_remove(f->store, f->id, err, sizeof(err)),
			 -1);
	assert_non_null(strstr(err, "no identity"));
	assert_int_equal(
		cp_store_remove(f->store, "../../etc/passwd", err, sizeof(err)),
		-1);
	assert_non_null(strstr(err, "invalid identity id"));
}

static void
write_file(const char *dir, const char *name, const char *text)
{
	char path[4096];
	FILE *file;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	file = fopen(path, "w");
	assert_non_null(file);
	fchmod(fileno(file), 0600);
	fputs(text, file);
	fclose(file);
}

/* Broken identity files are skipped; the others load. Files that are not
 * named like identities are ignored, such as a temporary file left by a
 * crash. */
static void
test_skips_bad_files(void **state)
{
	struct fixture *f = *state;
	char *good, name[128], err[1024];
	struct cp_store *store = NULL;

	import_ok(f, "leaves/p256/bundle.pem", NULL, NULL);
	write_file(f->dir,
		   "0000000000000000000000000000000000000000000000000000000000"
		   "000000.pem",
		   "not PEM at all\n");
	good = read_text(pki_path("leaves/p384/bundle.pem"), NULL);
	write_file(f->dir,
		   "1111111111111111111111111111111111111111111111111111111111"
		   "111111.pem",
		   good);
	snprintf(name, sizeof(name), ".%s.pem.Xy12Ab", f->id);
	write_file(f->dir, name, "half a file");
	write_file(f->dir,
		   "2222222222222222222222222222222222222222222222222222222222"
		   "222222.pem",
		   "certpick-identity: 9\n");
	free(good);

	assert_int_equal(cp_store_open(f->dir, &store, err, sizeof(err)), 0);
	assert_int_equal(cp_store_count(store), 1);
	assert_string_equal(cp_identity_id(cp_store_get(store, 0)), f->id);
	cp_store_free(store);
}

/* A FIFO named like an identity file is skipped at once. Opening it for
 * reading used to wait for a writer, which hung certpickd and every
 * certpick command on the store. */
static void
test_skips_fifo(void **state)
{
	struct fixture *f = *state;
	struct cp_store *store = NULL;
	char path[4096], err[1024];

	import_ok(f, "leaves/p256/bundle.pem", NULL, NULL);
	snprintf(path, sizeof(path), "%s/%s.pem", f->dir,
		 "3333333333333333333333333333333333333333333333333333333333"
		 "333333");
	assert_int_equal(mkfifo(path, 0600), 0);

	alarm(20); /* a hang ends the test with SIGALRM */
	assert_int_equal(cp_store_open(f->dir, &store, err, sizeof(err)), 0);
	assert_int_equal(cp_store_count(store), 1);
	alarm(0);
	cp_store_free(store);
}

/* A label longer than the 256 bytes that import writes makes the file
 * invalid, like a label with control characters. */
static void
test_skips_long_label(void **state)
{
	struct fixture *f = *state;
	X509 *leaf = load_pki_certificate("leaves/p384/cert.pem");
	EVP_PKEY *key = load_pki_key("leaves/p384/key.pem");
	struct cp_store *store = NULL;
	char label[300], err[1024];

	import_ok(f, "leaves/p256/bundle.pem", NULL, NULL);
	memset(label, 'x', sizeof(label) - 1);
	label[sizeof(label) - 1] = '\0';
	assert_int_equal(write_identity_file(f->dir, label, leaf, NULL, key),
			 0);
	assert_int_equal(cp_store_open(f->dir, &store, err, sizeof(err)), 0);
	assert_int_equal(cp_store_count(store), 1);
	assert_string_equal(cp_identity_id(cp_store_get(store, 0)), f->id);
	cp_store_free(store);
	X509_free(leaf);
	EVP_PKEY_free(key);
}

/* A key at rest whose PBES2 requires more than CP_KDF_ITERATIONS_MAX is
 * left out with a warning, so that certpickd never runs the derivation:
 * 2,000,000,000 iterations would stall it for minutes. The certificate
 * still loads, with its key unavailable. */
static void
test_skips_costly_key(void **state)
{
	struct fixture *f = *state;
	X509 *leaf = load_pki_certificate("leaves/p384/cert.pem");
	X509_SIG *sig = make_costly_encrypted_key(2000000000);
	struct cp_store *store = NULL;
	struct cp_identity *identity;
	char path[4096], err[1024];
	int tries_left;
	FILE *file;

	assert_non_null(sig);
	assert_int_equal(
		write_identity_file(f->dir, "costly", leaf, NULL, NULL), 0);
	assert_int_equal(identity_file_path(f->dir, leaf, path, sizeof(path)),
			 0);
	file = fopen(path, "a");
	assert_non_null(file);
	assert_true(PEM_write_PKCS8(file, sig));
	assert_int_equal(fclose(file), 0);

	assert_int_equal(cp_store_open(f->dir, &store, err, sizeof(err)), 0);
	identity = find_by_label(store, "costly");
	assert_non_null(identity);
	assert_false(cp_identity_key_available(identity));
	assert_false(cp_identity_locked(identity));
	alarm(20); /* the derivation would take minutes */
	assert_int_equal(cp_identity_unlock(identity, "x", &tries_left, err,
					    sizeof(err)),
			 -1);
	alarm(0);
	cp_store_free(store);
	X509_SIG_free(sig);
	X509_free(leaf);
}

/* Headers are percent-encoded, so a label survives any characters. */
static void
test_header_encoding(void **state)
{
	struct fixture *f = *state;
	struct cp_import_options options = {.label = "100% Alice: \"work\""};
	char path[4096], *text;
	struct cp_store *store = NULL;
	bool already;

	snprintf(path, sizeof(path), "%s", pki_path("leaves/p256/bundle.pem"));
	assert_int_equal(cp_store_import(f->store, path, &options, f->id,
					 &already, f->err, sizeof(f->err)),
			 0);
	snprintf(path, sizeof(path), "%s/%s.pem", f->dir, f->id);
	text = read_text(path, NULL);
	assert_non_null(strstr(text, "label: 100%25 Alice: \"work\"\n"));
	free(text);

	assert_int_equal(cp_store_open(f->dir, &store, f->err, sizeof(f->err)),
			 0);
	assert_string_equal(cp_identity_label(cp_store_get(store, 0)),
			    "100% Alice: \"work\"");
	cp_store_free(store);
}

static void
test_accessors(void **state)
{
	struct fixture *f = *state;
	struct cp_identity *identity;

	import_ok(f, "leaves/p384/bundle.pem", NULL, NULL);
	identity = cp_store_find(f->store, f->id);
	assert_string_equal(cp_identity_key_type(identity), "EC");
	assert_int_equal(cp_identity_key_bits(identity), 384);
	assert_int_equal(cp_identity_curve(identity), NID_secp384r1);
	assert_int_equal(cp_identity_source_kind(identity), CP_SOURCE_FILE);
	assert_string_equal(cp_identity_label(identity), "Alice P-384");

	import_ok(f, "leaves/rsa3072/bundle.pem", NULL, NULL);
	identity = cp_store_find(f->store, f->id);
	assert_string_equal(cp_identity_key_type(identity), "RSA");
	assert_int_equal(cp_identity_key_bits(identity), 3072);
	assert_int_equal(cp_identity_curve(identity), NID_undef);

	import_ok(f, "leaves/ed25519/bundle.pem", NULL, NULL);
	assert_string_equal(
		cp_identity_key_type(cp_store_find(f->store, f->id)),
		"ED25519");
}

static struct vl_interface *
parse_interface(const char *text)
{
	char err[256];
	struct vl_interface *interface =
		vl_interface_parse(text, err, sizeof(err));

	if (!interface)
		fail_msg("interface does not parse: %s", err);
	return interface;
}

static void
import_several(struct fixture *f)
{
	import_ok(f, "leaves/rsa2048/bundle.pem", NULL, NULL);
	import_ok(f, "leaves/utf8/bundle.pem", NULL, NULL);
	import_ok(f, "leaves/no-eku/bundle.pem", NULL, NULL);
	import_ok(f, "leaves/ed25519/bundle.pem", NULL, NULL);
	import_ok(f, "formats/p384.pem",
		  "formats/p384-traditional-encrypted.key", PASSWORD);
}

static void
test_identity_json_valid(void **state)
{
	struct fixture *f = *state;
	struct vl_interface *agent = parse_interface(cp_agent_interface);
	json_t *identities = json_array();
	json_t *reply;
	char bad[256] = "";

	import_several(f);
	for (size_t i = 0; i < cp_store_count(f->store); i++)
		json_array_append_new(
			identities,
			cp_identity_to_json(cp_store_get(f->store, i),
					    CP_JSON_IDENTITY));
	reply = json_pack("{s:o}", "identities", identities);
	if (vl_interface_check(agent, VL_CHECK_OUTPUT, "ListIdentities", reply,
			       bad, sizeof(bad)) < 0)
		fail_msg("ListIdentities reply is invalid at %s", bad);
	json_decref(reply);
	vl_interface_free(agent);
}

static void
test_match_reply_valid(void **state)
{
	struct fixture *f = *state;
	struct vl_interface *agent = parse_interface(cp_agent_interface);
	struct cp_match_request request = {0};
	struct cp_verdict *verdicts = NULL;
	json_t *array = json_array(), *reply;
	char bad[256] = "";
	ssize_t n;

	import_several(f);
	n = cp_match(f->store, &request, &verdicts);
	for (ssize_t i = 0; i < n; i++) {
		json_t *verdict =
			json_pack("{s:o}", "identity",
				  cp_identity_to_json(verdicts[i].identity,
						      CP_JSON_IDENTITY));

		assert_int_equal(cp_verdict_add_json(&verdicts[i], verdict), 0);
		json_array_append_new(array, verdict);
	}
	reply = json_pack("{s:b,s:o}", "ca_names_given", 0, "verdicts", array);
	if (vl_interface_check(agent, VL_CHECK_OUTPUT, "Match", reply, bad,
			       sizeof(bad)) < 0)
		fail_msg("Match reply is invalid at %s", bad);
	json_decref(reply);
	free(verdicts);
	vl_interface_free(agent);
}

static void
test_candidate_json_valid(void **state)
{
	struct fixture *f = *state;
	struct vl_interface *picker = parse_interface(cp_picker_interface);
	STACK_OF(X509_NAME) *names = sk_X509_NAME_new_null();
	struct cp_match_request request = {.ca_names = names};
	struct cp_verdict *verdicts = NULL;
	json_t *candidates = json_array(), *call;
	X509 *inter = load_pki_certificate("ca/inter.pem");
	char bad[256] = "";
	ssize_t n;

	import_several(f);
	sk_X509_NAME_push(names, X509_NAME_dup(X509_get_subject_name(inter)));
	n = cp_match(f->store, &request, &verdicts);
	for (ssize_t i = 0; i < n; i++) {
		json_t *candidate = cp_identity_to_json(verdicts[i].identity,
							CP_JSON_CANDIDATE);

		assert_non_null(candidate);
		assert_int_equal(cp_verdict_add_json(&verdicts[i], candidate),
				 0);
		json_array_append_new(candidates, candidate);
	}
	call = json_pack("{s:i,s:{s:i,s:s,s:s},s:{s:s,s:i},s:b,s:o,s:i,s:[s]}",
			 "dialog", 1, "requester", "pid", 42, "name", "curl",
			 "executable", "/usr/bin/curl", "server", "host",
			 "localhost", "port", 8443, "ca_names_given", 1,
			 "candidates", candidates, "timeout", 60,
			 "remember_scopes", "once");
	if (vl_interface_check(picker, VL_CHECK_INPUT, "Choose", call, bad,
			       sizeof(bad)) < 0)
		fail_msg("Choose call is invalid at %s", bad);
	json_decref(call);
	free(verdicts);
	X509_free(inter);
	sk_X509_NAME_pop_free(names, X509_NAME_free);
	vl_interface_free(picker);
}

static const char *
member(json_t *object, const char *key)
{
	const char *value = json_string_value(json_object_get(object, key));

	if (!value)
		fail_msg("no string member %s", key);
	return value;
}

static void
test_identity_json_content(void **state)
{
	struct fixture *f = *state;
	json_t *object, *chain;
	X509 *leaf = load_pki_certificate("leaves/utf8/cert.pem");
	unsigned char *der = NULL, *decoded = NULL;
	size_t decoded_len = 0;
	int der_len = i2d_X509(leaf, &der);

	import_ok(f, "leaves/utf8/bundle.pem", NULL, NULL);
	object = cp_identity_to_json(cp_store_find(f->store, f->id),
				     CP_JSON_IDENTITY | CP_JSON_CANDIDATE);
	assert_string_equal(member(object, "id"), f->id);
	assert_string_equal(member(object, "subject"),
			    "CN=Jürgen Müller – Δοκιμή 証明書,O=Zertifizierte "
			    "Ärzte GmbH");
	assert_string_equal(member(object, "issuer"),
			    "CN=certpick Test Intermediate CA,O=certpick test");
	assert_string_equal(member(object, "common_name"),
			    "Jürgen Müller – Δοκιμή 証明書");
	assert_string_equal(member(object, "issuer_common_name"),
			    "certpick Test Intermediate CA");
	assert_string_equal(member(object, "curve"), "P-256");
	assert_string_equal(member(object, "key_type"), "EC");
	assert_string_equal(member(object, "source_kind"), "file");
	assert_int_equal(strlen(member(object, "sha256_fingerprint")), 95);
	assert_int_equal(strlen(member(object, "not_after")), 20);
	assert_true(json_is_false(json_object_get(object, "locked")));

	chain = json_object_get(object, "chain");
	assert_int_equal(json_array_size(chain), 2);
	assert_int_equal(
		cp_base64_decode(
			json_string_value(json_array_get(chain, 0)),
			strlen(json_string_value(json_array_get(chain, 0))),
			&decoded, &decoded_len),
		0);
	assert_int_equal(decoded_len, der_len);
	assert_memory_equal(decoded, der, decoded_len);
	assert_int_equal(
		json_array_size(json_object_get(object, "chain_subjects")), 2);

	free(decoded);
	OPENSSL_free(der);
	X509_free(leaf);
	json_decref(object);
}

static void
test_candidate_usages_and_emails(void **state)
{
	struct fixture *f = *state;
	json_t *object, *usage, *emails;

	import_ok(f, "leaves/rsa2048/bundle.pem", NULL, NULL);
	object = cp_identity_to_json(cp_store_find(f->store, f->id),
				     CP_JSON_CANDIDATE);
	usage = json_object_get(object, "key_usage");
	assert_int_equal(json_array_size(usage), 1);
	assert_string_equal(json_string_value(json_array_get(usage, 0)),
			    "digitalSignature");
	usage = json_object_get(object, "extended_key_usage");
	assert_int_equal(json_array_size(usage), 2);
	assert_string_equal(json_string_value(json_array_get(usage, 0)),
			    "clientAuth");
	assert_string_equal(json_string_value(json_array_get(usage, 1)),
			    "emailProtection");
	emails = json_object_get(object, "emails");
	assert_int_equal(json_array_size(emails), 2);
	assert_string_equal(json_string_value(json_array_get(emails, 0)),
			    "alice@example.test");
	assert_null(json_object_get(object, "curve"));
	json_decref(object);
}

/* Verifies a signature with the certificate's public key, with the
 * parameters TLS uses; a PSS salt must be exactly the digest's length. */
static bool
verify(X509 *leaf, const struct cp_sigalg *alg, const uint8_t *message,
       size_t message_len, const uint8_t *signature, size_t signature_len)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	EVP_PKEY_CTX *pctx = NULL;
	const EVP_MD *md = alg->digest_nid == NID_undef
				   ? NULL
				   : EVP_get_digestbynid(alg->digest_nid);
	bool ok = EVP_DigestVerifyInit(ctx, &pctx, md, NULL,
				       X509_get0_pubkey(leaf)) > 0;

	if (ok && (alg->family == CP_SIG_RSA_PSS_RSAE ||
		   alg->family == CP_SIG_RSA_PSS_PSS))
		ok = EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) >
			     0 &&
		     EVP_PKEY_CTX_set_rsa_pss_saltlen(
			     pctx, RSA_PSS_SALTLEN_DIGEST) > 0 &&
		     EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, md) > 0;
	else if (ok && alg->family == CP_SIG_RSA_PKCS1)
		ok = EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) > 0;
	ok = ok && EVP_DigestVerify(ctx, signature, signature_len, message,
				    message_len) == 1;
	EVP_MD_CTX_free(ctx);
	return ok;
}

static void
digest_of(const struct cp_sigalg *alg, const uint8_t *message, size_t len,
	  uint8_t *digest, unsigned *digest_len)
{
	assert_true(EVP_Digest(message, len, digest, digest_len,
			       EVP_get_digestbynid(alg->digest_nid), NULL));
}

/* Signs the message, and its digest unless the scheme is EdDSA, and checks
 * both signatures. */
static void
sign_and_verify(struct cp_identity *identity, const char *scheme)
{
	static const uint8_t message[] = "TLS 1.3, client CertificateVerify";
	const struct cp_sigalg *alg = cp_sigalg_by_name(scheme);
	uint8_t *signature = NULL, digest[EVP_MAX_MD_SIZE];
	size_t signature_len = 0;
	unsigned digest_len = 0;
	char err[512];

	assert_non_null(alg);
	if (cp_identity_sign(identity, alg, message, sizeof(message), false,
			     &signature, &signature_len, err, sizeof(err)) < 0)
		fail_msg("%s: %s", scheme, err);
	assert_true(verify(cp_identity_leaf(identity), alg, message,
			   sizeof(message), signature, signature_len));
	free(signature);
	if (alg->digest_nid == NID_undef)
		return;

	digest_of(alg, message, sizeof(message), digest, &digest_len);
	if (cp_identity_sign(identity, alg, digest, digest_len, true,
			     &signature, &signature_len, err, sizeof(err)) < 0)
		fail_msg("%s over a digest: %s", scheme, err);
	assert_true(verify(cp_identity_leaf(identity), alg, message,
			   sizeof(message), signature, signature_len));
	free(signature);
}

/* ECDSA signatures are DER: an ECDSA-Sig-Value SEQUENCE that decodes
 * with no byte left over. */
static void
assert_ecdsa_der(struct cp_identity *identity, const char *scheme)
{
	static const uint8_t message[] = "hello";
	uint8_t *signature = NULL;
	const unsigned char *p;
	size_t len = 0;
	char err[512];
	ECDSA_SIG *value;

	assert_int_equal(cp_identity_sign(identity, cp_sigalg_by_name(scheme),
					  message, sizeof(message), false,
					  &signature, &len, err, sizeof(err)),
			 0);
	p = signature;
	value = d2i_ECDSA_SIG(NULL, &p, (long)len);
	assert_non_null(value);
	assert_ptr_equal(p, signature + len);
	ECDSA_SIG_free(value);
	free(signature);
}

static void
test_sign_rsa2048(void **state)
{
	struct fixture *f = *state;
	struct cp_identity *identity;

	import_ok(f, "leaves/rsa2048/bundle.pem", NULL, NULL);
	identity = cp_store_find(f->store, f->id);
	sign_and_verify(identity, "rsa_pkcs1_sha256");
	sign_and_verify(identity, "rsa_pkcs1_sha1");
	sign_and_verify(identity, "rsa_pss_rsae_sha256");
	sign_and_verify(identity, "rsa_pss_rsae_sha384");
}

static void
test_sign_rsa3072(void **state)
{
	struct fixture *f = *state;
	struct cp_identity *identity;

	import_ok(f, "leaves/rsa3072/bundle.pem", NULL, NULL);
	identity = cp_store_find(f->store, f->id);
	sign_and_verify(identity, "rsa_pss_rsae_sha512");
	sign_and_verify(identity, "rsa_pkcs1_sha384");
}

static void
test_sign_p256(void **state)
{
	struct fixture *f = *state;
	struct cp_identity *identity;

	import_ok(f, "leaves/p256/bundle.pem", NULL, NULL);
	identity = cp_store_find(f->store, f->id);
	sign_and_verify(identity, "ecdsa_secp256r1_sha256");
	/* Only the hash counts when signing: TLS 1.2 pairs any curve. */
	sign_and_verify(identity, "ecdsa_secp384r1_sha384");
	assert_ecdsa_der(identity, "ecdsa_secp256r1_sha256");
}

static void
test_sign_p384(void **state)
{
	struct fixture *f = *state;
	struct cp_identity *identity;

	import_ok(f, "leaves/p384/bundle.pem", NULL, NULL);
	identity = cp_store_find(f->store, f->id);
	sign_and_verify(identity, "ecdsa_secp384r1_sha384");
	assert_ecdsa_der(identity, "ecdsa_secp384r1_sha384");
}

static void
test_sign_ed25519(void **state)
{
	struct fixture *f = *state;
	struct cp_identity *identity;
	uint8_t digest[32] = {0}, *signature = NULL;
	size_t len = 0;
	char err[512];

	import_ok(f, "leaves/ed25519/bundle.pem", NULL, NULL);
	identity = cp_store_find(f->store, f->id);
	sign_and_verify(identity, "ed25519");
	assert_int_equal(cp_identity_sign(identity,
					  cp_sigalg_by_name("ed25519"), digest,
					  sizeof(digest), true, &signature,
					  &len, err, sizeof(err)),
			 -1);
	assert_non_null(strstr(err, "whole message"));
}

static void
test_sign_rejects_wrong_input(void **state)
{
	struct fixture *f = *state;
	struct cp_identity *identity;
	uint8_t digest[20] = {0}, *signature = NULL;
	size_t len = 0;
	char err[512];

	import_ok(f, "leaves/rsa2048/bundle.pem", NULL, NULL);
	identity = cp_store_find(f->store, f->id);
	assert_int_equal(cp_identity_sign(identity,
					  cp_sigalg_by_name("ed25519"), digest,
					  sizeof(digest), false, &signature,
					  &len, err, sizeof(err)),
			 -1);
	assert_non_null(strstr(err, "RSA key"));
	assert_int_equal(
		cp_identity_sign(identity,
				 cp_sigalg_by_name("rsa_pss_rsae_sha256"),
				 digest, sizeof(digest), true, &signature, &len,
				 err, sizeof(err)),
		-1);
	assert_non_null(strstr(err, "32 bytes"));
}

/* A locked key signs only after cp_identity_unlock. */
static void
test_sign_locked(void **state)
{
	struct fixture *f = *state;
	struct cp_identity *identity;
	uint8_t *signature = NULL;
	size_t len = 0;
	char err[512];
	int tries;

	import_ok(f, "formats/p384.pem",
		  "formats/p384-traditional-encrypted.key", PASSWORD);
	identity = cp_store_find(f->store, f->id);
	assert_true(cp_identity_locked(identity));
	assert_int_equal(
		cp_identity_sign(identity,
				 cp_sigalg_by_name("ecdsa_secp384r1_sha384"),
				 (const uint8_t *)"x", 1, false, &signature,
				 &len, err, sizeof(err)),
		-1);
	assert_non_null(strstr(err, "locked"));

	assert_int_equal(cp_identity_unlock(identity, PASSWORD, &tries, err,
					    sizeof(err)),
			 0);
	sign_and_verify(identity, "ecdsa_secp384r1_sha384");
}

static void
test_sign_keyless(void **state)
{
	struct fixture *f = *state;
	X509 *leaf = load_pki_certificate("leaves/p256/cert.pem");
	struct cp_identity *identity;
	uint8_t *signature = NULL;
	size_t len = 0;
	char err[512];

	assert_int_equal(
		write_identity_file(f->dir, "keyless", leaf, NULL, NULL), 0);
	assert_int_equal(cp_store_refresh(f->store, err, sizeof(err)), 1);
	identity = cp_store_get(f->store, 0);
	assert_false(cp_identity_key_available(identity));
	assert_int_equal(
		cp_identity_sign(identity,
				 cp_sigalg_by_name("ecdsa_secp256r1_sha256"),
				 (const uint8_t *)"x", 1, false, &signature,
				 &len, err, sizeof(err)),
		-1);
	assert_non_null(strstr(err, "no usable private key"));
	X509_free(leaf);
}

#define TEST(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_creates_private_dir),
		cmocka_unit_test(test_rejects_writable_dir),
		cmocka_unit_test(test_rejects_other_owner),
		TEST(test_rejects_writable_file),
		cmocka_unit_test(test_default_dir),
		TEST(test_refresh),
		TEST(test_refresh_keeps_unlocked_key),
		TEST(test_remove),
		TEST(test_skips_bad_files),
		TEST(test_skips_fifo),
		TEST(test_skips_long_label),
		TEST(test_skips_costly_key),
		TEST(test_header_encoding),
		TEST(test_accessors),
		TEST(test_identity_json_valid),
		TEST(test_match_reply_valid),
		TEST(test_candidate_json_valid),
		TEST(test_identity_json_content),
		TEST(test_candidate_usages_and_emails),
		TEST(test_sign_rsa2048),
		TEST(test_sign_rsa3072),
		TEST(test_sign_p256),
		TEST(test_sign_p384),
		TEST(test_sign_ed25519),
		TEST(test_sign_rejects_wrong_input),
		TEST(test_sign_locked),
		TEST(test_sign_keyless),
	};

	return cmocka_run_group_tests_name("store", tests, NULL, NULL);
}
