/* Tests of import: every input format of the test PKI, passwords, the
 * rejection of a key that does not belong to the certificate, duplicates,
 * chain ordering, keys kept encrypted at rest, and failed writes that
 * leave nothing behind. */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/pem.h>
#include <openssl/pkcs12.h>

#include "support.h"

#define PASSWORD "correct horse battery staple"
#define UTF8_PASSWORD "pässwörd-ünïcödé"

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

	f->dir = make_temp_dir("certpick-import");
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

/* The id of a PKI leaf, from its certificate. */
static const char *
pki_leaf_id(const char *leaf, char id[CP_IDENTITY_ID_SIZE])
{
	char relative[128];
	unsigned char digest[32];
	unsigned len = 0;
	X509 *certificate;

	snprintf(relative, sizeof(relative), "leaves/%s/cert.pem", leaf);
	certificate = load_pki_certificate(relative);
	X509_digest(certificate, EVP_sha256(), digest, &len);
	for (unsigned i = 0; i < len; i++)
		snprintf(id + 2 * i, 3, "%02x", digest[i]);
	X509_free(certificate);
	return id;
}

/* Reads the identity file of id. */
static char *
identity_file(struct fixture *f, const char *id)
{
	char path[4096];

	snprintf(path, sizeof(path), "%s/%s.pem", f->dir, id);
	return read_text(path, NULL);
}

static void
assert_imported(struct fixture *f, const char *leaf, int chain_length,
		bool locked)
{
	char expected[CP_IDENTITY_ID_SIZE];
	struct cp_identity *identity;

	assert_string_equal(f->id, pki_leaf_id(leaf, expected));
	identity = cp_store_find(f->store, f->id);
	assert_non_null(identity);
	assert_int_equal(sk_X509_num(cp_identity_chain(identity)),
			 chain_length);
	assert_int_equal(cp_identity_locked(identity), locked);
	assert_true(cp_identity_key_available(identity));
}

static void
test_pem_bundle(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(import_pki(f->store, "leaves/rsa2048/bundle.pem", NULL,
				    NULL, f->id, f->err, sizeof(f->err)),
			 0);
	assert_imported(f, "rsa2048", 1, false);
}

static void
test_bundle_bom_crlf_any_order(void **state)
{
	struct fixture *f = *state;
	struct cp_identity *identity;
	X509 *inter = load_pki_certificate("ca/inter.pem");

	assert_int_equal(import_pki(f->store, "formats/bundle-bom-crlf.pem",
				    NULL, NULL, f->id, f->err, sizeof(f->err)),
			 0);
	assert_imported(f, "rsa2048", 1, false);
	identity = cp_store_find(f->store, f->id);
	assert_int_equal(
		X509_cmp(sk_X509_value(cp_identity_chain(identity), 0), inter),
		0);
	X509_free(inter);
}

static void
test_separate_key_file(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(import_pki(f->store, "formats/separate-cert.pem",
				    "formats/separate-key.pem", NULL, f->id,
				    f->err, sizeof(f->err)),
			 0);
	assert_imported(f, "p256", 0, false);
}

/* An encrypted key stays encrypted: PKCS #8 with PBES2, never in clear,
 * and the password is nowhere in the file. */
static void
assert_encrypted_at_rest(struct fixture *f, const char *password)
{
	char *text = identity_file(f, f->id);
	const char *begin;
	X509_SIG *encrypted;
	const X509_ALGOR *algorithm;
	const ASN1_OBJECT *oid;
	BIO *in;

	assert_non_null(text);
	assert_null(strstr(text, "-----BEGIN PRIVATE KEY-----"));
	assert_null(strstr(text, password));
	begin = strstr(text, "-----BEGIN ENCRYPTED PRIVATE KEY-----");
	assert_non_null(begin);

	in = BIO_new_mem_buf(begin, -1);
	encrypted = PEM_read_bio_PKCS8(in, NULL, NULL, NULL);
	assert_non_null(encrypted);
	X509_SIG_get0(encrypted, &algorithm, NULL);
	X509_ALGOR_get0(&oid, NULL, NULL, algorithm);
	assert_int_equal(OBJ_obj2nid(oid), NID_pbes2);
	X509_SIG_free(encrypted);
	BIO_free(in);
	free(text);
}

static void
assert_unlocks(struct fixture *f, const char *password)
{
	struct cp_identity *identity = cp_store_find(f->store, f->id);
	int tries_left = 0;

	assert_int_equal(cp_identity_unlock(identity, "not the password",
					    &tries_left, f->err,
					    sizeof(f->err)),
			 1);
	assert_int_equal(tries_left, -1);
	assert_true(cp_identity_locked(identity));
	assert_int_equal(cp_identity_unlock(identity, password, &tries_left,
					    f->err, sizeof(f->err)),
			 0);
	assert_false(cp_identity_locked(identity));
}

static void
test_traditional_encrypted_rsa(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(import_pki(f->store, "formats/rsa3072.pem",
				    "formats/rsa3072-traditional-encrypted.key",
				    PASSWORD, f->id, f->err, sizeof(f->err)),
			 0);
	assert_imported(f, "rsa3072", 0, true);
	assert_encrypted_at_rest(f, PASSWORD);
	assert_unlocks(f, PASSWORD);
}

static void
test_traditional_encrypted_ec(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(import_pki(f->store, "formats/p384.pem",
				    "formats/p384-traditional-encrypted.key",
				    PASSWORD, f->id, f->err, sizeof(f->err)),
			 0);
	assert_imported(f, "p384", 0, true);
	assert_encrypted_at_rest(f, PASSWORD);
}

static void
test_pkcs8_encrypted(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(import_pki(f->store, "formats/ed25519.pem",
				    "formats/ed25519-pkcs8-encrypted.key",
				    PASSWORD, f->id, f->err, sizeof(f->err)),
			 0);
	assert_imported(f, "ed25519", 0, true);
	assert_encrypted_at_rest(f, PASSWORD);
	assert_unlocks(f, PASSWORD);
}

static void
test_pkcs12_modern(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(import_pki(f->store, "formats/modern.p12", NULL,
				    PASSWORD, f->id, f->err, sizeof(f->err)),
			 0);
	assert_imported(f, "rsa2048", 1, true);
	assert_encrypted_at_rest(f, PASSWORD);
	assert_string_equal(cp_identity_label(cp_store_find(f->store, f->id)),
			    "rsa2048 from modern");
}

/* RC2-40 and 3DES need OpenSSL's legacy provider. */
static void
test_pkcs12_legacy(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(import_pki(f->store, "formats/legacy.p12", NULL,
				    PASSWORD, f->id, f->err, sizeof(f->err)),
			 0);
	assert_imported(f, "p256", 1, true);
	assert_unlocks(f, PASSWORD);
}

/* Imports a file that needs no password. The callback fails the test if
 * import calls it. */
static void
import_without_asking(struct fixture *f, const char *file)
{
	struct test_password source = {"unused", 0, 0};
	struct cp_import_options options = {
		.ask_password = test_password_cb,
		.ask_password_arg = &source,
	};
	char path[4096];
	bool already;

	snprintf(path, sizeof(path), "%s", pki_path(file));
	assert_int_equal(cp_store_import(f->store, path, &options, f->id,
					 &already, f->err, sizeof(f->err)),
			 0);
	assert_int_equal(source.calls, 0);
}

static void
test_pkcs12_empty_password(void **state)
{
	struct fixture *f = *state;

	import_without_asking(f, "formats/empty-password.p12");
	assert_imported(f, "ed25519", 0, false);
}

static void
test_pkcs12_no_password(void **state)
{
	struct fixture *f = *state;

	import_without_asking(f, "formats/no-password.p12");
	assert_imported(f, "rsa3072", 0, false);
}

static void
test_pkcs12_utf8_password(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(import_pki(f->store, "formats/utf8-password.p12", NULL,
				    UTF8_PASSWORD, f->id, f->err,
				    sizeof(f->err)),
			 0);
	assert_imported(f, "utf8", 1, true);
	assert_encrypted_at_rest(f, UTF8_PASSWORD);
	assert_unlocks(f, UTF8_PASSWORD);
}

static void
test_wrong_password(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(import_pki(f->store, "formats/modern.p12", NULL,
				    "wrong", f->id, f->err, sizeof(f->err)),
			 -1);
	assert_non_null(strstr(f->err, "wrong password"));
	assert_non_null(strstr(f->err, "modern.p12"));
	assert_int_equal(count_entries(f->dir), 0);
}

static void
test_wrong_password_pem_key(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(import_pki(f->store, "formats/ed25519.pem",
				    "formats/ed25519-pkcs8-encrypted.key",
				    "wrong", f->id, f->err, sizeof(f->err)),
			 -1);
	assert_non_null(strstr(f->err, "wrong password"));
	assert_non_null(strstr(f->err, "ed25519-pkcs8-encrypted.key"));
	assert_int_equal(count_entries(f->dir), 0);
}

/* Three wrong passwords, then import gives up. */
static void
test_password_tries(void **state)
{
	struct fixture *f = *state;
	struct test_password source = {"wrong", 10, 0};
	struct cp_import_options options = {
		.ask_password = test_password_cb,
		.ask_password_arg = &source,
	};
	char path[4096];
	bool already;

	snprintf(path, sizeof(path), "%s", pki_path("formats/legacy.p12"));
	assert_int_equal(cp_store_import(f->store, path, &options, f->id,
					 &already, f->err, sizeof(f->err)),
			 -1);
	assert_int_equal(source.calls, 3);
	assert_non_null(strstr(f->err, "wrong password"));
}

static void
test_no_password_available(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(import_pki(f->store, "formats/p384.pem",
				    "formats/p384-traditional-encrypted.key",
				    NULL, f->id, f->err, sizeof(f->err)),
			 -1);
	assert_non_null(strstr(f->err, "no password was given"));
	assert_non_null(strstr(f->err, "p384-traditional-encrypted.key"));
	assert_int_equal(count_entries(f->dir), 0);
}

static void
test_key_mismatch(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(import_pki(f->store, "formats/mismatch-cert.pem",
				    "formats/mismatch-key.pem", NULL, f->id,
				    f->err, sizeof(f->err)),
			 -1);
	assert_non_null(strstr(f->err, "does not belong"));
	assert_non_null(strstr(f->err, "mismatch-key.pem"));
	assert_non_null(strstr(f->err, "mismatch-cert.pem"));
	assert_int_equal(count_entries(f->dir), 0);
}

static void
test_duplicate(void **state)
{
	struct fixture *f = *state;
	struct cp_import_options options = {0};
	char first[CP_IDENTITY_ID_SIZE], path[4096], file[4096];
	struct stat before, after;
	bool already = true;

	assert_int_equal(import_pki(f->store, "leaves/p256/bundle.pem", NULL,
				    NULL, first, f->err, sizeof(f->err)),
			 0);
	snprintf(file, sizeof(file), "%s/%s.pem", f->dir, first);
	assert_int_equal(stat(file, &before), 0);

	snprintf(path, sizeof(path), "%s", pki_path("leaves/p256/bundle.pem"));
	assert_int_equal(cp_store_import(f->store, path, &options, f->id,
					 &already, f->err, sizeof(f->err)),
			 0);
	assert_true(already);
	assert_string_equal(f->id, first);
	assert_int_equal(stat(file, &after), 0);
	assert_int_equal(before.st_ino, after.st_ino);
	assert_int_equal(cp_store_count(f->store), 1);
}

/* The same identity from another format is a duplicate too. */
static void
test_duplicate_other_format(void **state)
{
	struct fixture *f = *state;
	char first[CP_IDENTITY_ID_SIZE];

	assert_int_equal(import_pki(f->store, "leaves/p256/bundle.pem", NULL,
				    NULL, first, f->err, sizeof(f->err)),
			 0);
	assert_int_equal(import_pki(f->store, "formats/legacy.p12", NULL,
				    PASSWORD, f->id, f->err, sizeof(f->err)),
			 0);
	assert_string_equal(f->id, first);
	assert_int_equal(cp_store_count(f->store), 1);
	assert_false(cp_identity_locked(cp_store_find(f->store, f->id)));
}

static void
append_file(FILE *out, const char *relative)
{
	char *text = read_text(pki_path(relative), NULL);

	assert_non_null(text);
	fputs(text, out);
	free(text);
}

/* Root and intermediate in the wrong order, with two certificates that
 * have nothing to do with the leaf. */
static void
test_chain_order_and_unrelated(void **state)
{
	struct fixture *f = *state;
	char *input = make_temp_dir("certpick-input");
	char path[4096];
	FILE *out;
	struct cp_identity *identity;
	STACK_OF(X509) *chain;
	X509 *inter = load_pki_certificate("ca/inter.pem");
	X509 *root = load_pki_certificate("ca/root.pem");
	struct cp_import_options options = {0};
	bool already;
	char *real;

	snprintf(path, sizeof(path), "%s/bundle.pem", input);
	out = fopen(path, "w");
	append_file(out, "ca/other-root.pem");
	append_file(out, "leaves/p256/key.pem");
	append_file(out, "ca/root.pem");
	append_file(out, "leaves/p256/cert.pem");
	append_file(out, "ca/server-ca.pem");
	append_file(out, "ca/inter.pem");
	fclose(out);

	assert_int_equal(cp_store_import(f->store, path, &options, f->id,
					 &already, f->err, sizeof(f->err)),
			 0);
	identity = cp_store_find(f->store, f->id);
	chain = cp_identity_chain(identity);
	assert_int_equal(sk_X509_num(chain), 2);
	assert_int_equal(X509_cmp(sk_X509_value(chain, 0), inter), 0);
	assert_int_equal(X509_cmp(sk_X509_value(chain, 1), root), 0);
	real = realpath(path, NULL);
	assert_string_equal(cp_identity_source(identity), real);
	free(real);

	X509_free(inter);
	X509_free(root);
	remove_tree(input);
	free(input);
}

static void
test_label_option(void **state)
{
	struct fixture *f = *state;
	struct cp_import_options options = {.label = "Work card ✓"};
	char path[4096];
	bool already;

	snprintf(path, sizeof(path), "%s", pki_path("leaves/p256/bundle.pem"));
	assert_int_equal(cp_store_import(f->store, path, &options, f->id,
					 &already, f->err, sizeof(f->err)),
			 0);
	assert_string_equal(cp_identity_label(cp_store_find(f->store, f->id)),
			    "Work card ✓");
}

static void
test_label_invalid(void **state)
{
	struct fixture *f = *state;
	struct cp_import_options options = {.label = "two\nlines"};
	char path[4096];
	bool already;

	snprintf(path, sizeof(path), "%s", pki_path("leaves/p256/bundle.pem"));
	assert_int_equal(cp_store_import(f->store, path, &options, f->id,
					 &already, f->err, sizeof(f->err)),
			 -1);
	assert_non_null(strstr(f->err, "invalid label"));
	assert_int_equal(count_entries(f->dir), 0);
}

static void
test_utf8_label_from_subject(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(import_pki(f->store, "leaves/utf8/bundle.pem", NULL,
				    NULL, f->id, f->err, sizeof(f->err)),
			 0);
	assert_string_equal(cp_identity_label(cp_store_find(f->store, f->id)),
			    "Jürgen Müller – Δοκιμή 証明書");
}

static void
test_no_key(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(import_pki(f->store, "leaves/p256/cert.pem", NULL,
				    NULL, f->id, f->err, sizeof(f->err)),
			 -1);
	assert_non_null(strstr(f->err, "no private key"));
	assert_non_null(strstr(f->err, "--key"));
}

static void
test_two_keys(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(import_pki(f->store, "leaves/p256/bundle.pem",
				    "leaves/p256/key.pem", NULL, f->id, f->err,
				    sizeof(f->err)),
			 -1);
	assert_non_null(strstr(f->err, "2 private keys"));
}

static void
test_not_a_certificate(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(import_pki(f->store, "passwords/plain", NULL, NULL,
				    f->id, f->err, sizeof(f->err)),
			 -1);
	assert_non_null(strstr(f->err, "neither PEM, PKCS #12"));
	assert_non_null(strstr(f->err, "passwords/plain"));
}

static void
test_missing_file(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(import_pki(f->store, "no/such/file.pem", NULL, NULL,
				    f->id, f->err, sizeof(f->err)),
			 -1);
	assert_non_null(strstr(f->err, "cannot open"));
	assert_non_null(strstr(f->err, "no/such/file.pem"));
}

/* A file size limit makes the write fail half-way; the temporary file
 * goes, and no identity file appears. */
static void
test_failed_write_leaves_nothing(void **state)
{
	struct fixture *f = *state;
	struct rlimit saved, small;
	void (*saved_handler)(int) = signal(SIGXFSZ, SIG_IGN);
	int r;

	assert_int_equal(getrlimit(RLIMIT_FSIZE, &saved), 0);
	small = saved;
	small.rlim_cur = 512;
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &small), 0);
	r = import_pki(f->store, "leaves/rsa2048/bundle.pem", NULL, NULL, f->id,
		       f->err, sizeof(f->err));
	setrlimit(RLIMIT_FSIZE, &saved);
	signal(SIGXFSZ, saved_handler);

	assert_int_equal(r, -1);
	assert_non_null(strstr(f->err, "cannot write"));
	assert_int_equal(count_entries(f->dir), 0);
	assert_int_equal(cp_store_count(f->store), 0);
}

/* An identity that the store would skip at load is rejected at import,
 * not reported as imported: here a certificate whose notAfter has month
 * 13, re-signed so that only the date is wrong. */
static void
test_unloadable_identity(void **state)
{
	struct fixture *f = *state;
	EVP_PKEY *key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	struct mint mint = {
		.common_name = "Month Thirteen",
		.issuer_key = key,
		.key = key,
		.not_before = time(NULL) - 60,
		.not_after = time(NULL) + 3600,
	};
	X509 *leaf = mint_certificate(&mint);
	char *input_dir = make_temp_dir("certpick-import-input");
	char path[4096];
	bool present = true;
	FILE *file;

	assert_true(
		ASN1_STRING_set(X509_getm_notAfter(leaf), "361301000000Z", 13));
	assert_true(X509_sign(leaf, key, EVP_sha256()) > 0);
	snprintf(path, sizeof(path), "%s/bundle.pem", input_dir);
	file = fopen(path, "w");
	assert_non_null(file);
	assert_true(PEM_write_X509(file, leaf));
	assert_true(PEM_write_PrivateKey(file, key, NULL, NULL, 0, NULL, NULL));
	assert_int_equal(fclose(file), 0);

	assert_int_equal(cp_store_import(f->store, path, NULL, f->id, &present,
					 f->err, sizeof(f->err)),
			 -1);
	assert_non_null(strstr(f->err, "invalid validity period"));
	assert_non_null(strstr(f->err, path));
	assert_int_equal(count_entries(f->dir), 0);
	assert_int_equal(cp_store_count(f->store), 0);

	remove_tree(input_dir);
	free(input_dir);
	X509_free(leaf);
	EVP_PKEY_free(key);
}

/* An identity whose file lost its key gets it back from a new import. */
static void
test_import_restores_key(void **state)
{
	struct fixture *f = *state;
	X509 *leaf = load_pki_certificate("leaves/p256/cert.pem");
	char err[1024];

	assert_int_equal(
		write_identity_file(f->dir, "keyless", leaf, NULL, NULL), 0);
	assert_true(cp_store_refresh(f->store, err, sizeof(err)) >= 0);
	assert_false(cp_identity_key_available(cp_store_get(f->store, 0)));

	assert_int_equal(import_pki(f->store, "leaves/p256/bundle.pem", NULL,
				    NULL, f->id, f->err, sizeof(f->err)),
			 0);
	assert_int_equal(cp_store_count(f->store), 1);
	assert_true(cp_identity_key_available(cp_store_find(f->store, f->id)));
	X509_free(leaf);
}

static void
test_files_private(void **state)
{
	struct fixture *f = *state;
	char path[4096];
	struct stat st;

	assert_int_equal(import_pki(f->store, "leaves/p256/bundle.pem", NULL,
				    NULL, f->id, f->err, sizeof(f->err)),
			 0);
	snprintf(path, sizeof(path), "%s/%s.pem", f->dir, f->id);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(count_entries(f->dir), 1);
}

/* A key derivation count far beyond any export's, as a crafted file can
 * ask for: 2,000,000,000 iterations would take over seven minutes. */
#define HUGE_ITERATIONS 2000000000L

/* Writes a PKCS #12 file without a MAC: the p256 leaf in a data part and
 * key_bag in another, or the leaf alone in a part encrypted with
 * HUGE_ITERATIONS when key_bag is NULL. */
static void
write_pkcs12(const char *path, PKCS12_SAFEBAG *key_bag)
{
	X509 *leaf = load_pki_certificate("leaves/p256/cert.pem");
	STACK_OF(PKCS12_SAFEBAG) *bags = NULL;
	STACK_OF(PKCS7) *safes = NULL;
	PKCS12 *p12;
	FILE *file;

	assert_non_null(PKCS12_add_cert(&bags, leaf));
	if (key_bag) {
		assert_true(sk_PKCS12_SAFEBAG_push(bags, key_bag) > 0);
		assert_true(PKCS12_add_safe(&safes, bags, -1, 0, NULL));
	} else {
		unsigned char salt[8] = "saltsalt";
		PKCS7 *safe;

		/* Encrypted with one iteration, then relabelled: building
		 * it with the real count would take minutes. */
		assert_true(PKCS12_add_safe(
			&safes, bags, NID_pbe_WithSHA1And3_Key_TripleDES_CBC, 1,
			"x"));
		safe = sk_PKCS7_value(safes, 0);
		X509_ALGOR_free(safe->d.encrypted->enc_data->algorithm);
		safe->d.encrypted->enc_data->algorithm =
			PKCS5_pbe_set(NID_pbe_WithSHA1And3_Key_TripleDES_CBC,
				      (int)HUGE_ITERATIONS, salt, sizeof(salt));
		assert_non_null(safe->d.encrypted->enc_data->algorithm);
	}
	p12 = PKCS12_add_safes(safes, 0);
	assert_non_null(p12);
	file = fopen(path, "wb");
	assert_non_null(file);
	assert_true(i2d_PKCS12_fp(file, p12));
	assert_int_equal(fclose(file), 0);
	PKCS12_free(p12);
	sk_PKCS7_pop_free(safes, PKCS7_free);
	sk_PKCS12_SAFEBAG_pop_free(bags, PKCS12_SAFEBAG_free);
	X509_free(leaf);
}

/* Imports path with the password "x" and checks that it fails at once,
 * with a message that names the count, before any password is asked for
 * when asks is 0. */
static void
import_refused(struct fixture *f, const char *path, const char *named, int asks)
{
	struct test_password password = {"x", 3, 0};
	struct cp_import_options options = {
		.ask_password = test_password_cb,
		.ask_password_arg = &password,
	};
	bool present = true;
	int r;

	alarm(60); /* deriving a key with the count takes minutes */
	r = cp_store_import(f->store, path, &options, f->id, &present, f->err,
			    sizeof(f->err));
	alarm(0);
	assert_int_equal(r, -1);
	if (!strstr(f->err, named) || !strstr(f->err, "2000000000") ||
	    !strstr(f->err, "fewer iterations"))
		fail_msg("unexpected message: %s", f->err);
	assert_int_equal(password.calls, asks);
	assert_int_equal(count_entries(f->dir), 0);
}

/* Files whose key derivation requires more than CP_KDF_ITERATIONS_MAX are
 * rejected before any key is derived: an encrypted PEM key, the MAC of a
 * PKCS #12 file, its encrypted part, and a key bag in it. */
static void
test_costly_key_derivation(void **state)
{
	struct fixture *f = *state;
	char *input_dir = make_temp_dir("certpick-import-input");
	X509 *leaf = load_pki_certificate("leaves/p256/cert.pem");
	EVP_PKEY *key = load_pki_key("leaves/p256/key.pem");
	X509_SIG *sig = make_costly_encrypted_key((int)HUGE_ITERATIONS);
	const ASN1_INTEGER *mac_iterations = NULL;
	PKCS12 *p12;
	char path[4096];
	FILE *file;

	assert_non_null(sig);
	snprintf(path, sizeof(path), "%s/key.pem", input_dir);
	file = fopen(path, "w");
	assert_non_null(file);
	assert_true(PEM_write_X509(file, leaf));
	assert_true(PEM_write_PKCS8(file, sig));
	assert_int_equal(fclose(file), 0);
	import_refused(f, path, "the private key in", 0);

	/* A MAC made with 2048 iterations that then claims the huge count. */
	p12 = PKCS12_create("x", NULL, key, leaf, NULL, 0, 0, 2048, 2048, 0);
	assert_non_null(p12);
	PKCS12_get0_mac(NULL, NULL, NULL, &mac_iterations, p12);
	assert_non_null(mac_iterations);
	assert_true(ASN1_INTEGER_set((ASN1_INTEGER *)mac_iterations,
				     HUGE_ITERATIONS));
	snprintf(path, sizeof(path), "%s/mac.p12", input_dir);
	file = fopen(path, "wb");
	assert_non_null(file);
	assert_true(i2d_PKCS12_fp(file, p12));
	assert_int_equal(fclose(file), 0);
	PKCS12_free(p12);
	import_refused(f, path, "the MAC of", 0);

	snprintf(path, sizeof(path), "%s/content.p12", input_dir);
	write_pkcs12(path, NULL);
	import_refused(f, path, "the encrypted content of", 0);

	snprintf(path, sizeof(path), "%s/bag.p12", input_dir);
	write_pkcs12(path, PKCS12_SAFEBAG_create0_pkcs8(sig));
	sig = NULL; /* the bag owns it */
	import_refused(f, path, "a private key in", 0);

	remove_tree(input_dir);
	free(input_dir);
	X509_free(leaf);
	EVP_PKEY_free(key);
}

/* The store keeps an encrypted key under the password it came with, and
 * the picker can only send UTF-8 text: a key whose password is not UTF-8
 * is refused rather than stored where nothing could unlock it. */
static void
test_password_not_utf8(void **state)
{
	struct fixture *f = *state;
	char *input_dir = make_temp_dir("certpick-import-input");
	X509 *leaf = load_pki_certificate("leaves/p256/cert.pem");
	EVP_PKEY *key = load_pki_key("leaves/p256/key.pem");
	const char latin1[] = "caf\xe9";
	struct test_password password = {latin1, 1, 0};
	struct cp_import_options options = {
		.ask_password = test_password_cb,
		.ask_password_arg = &password,
	};
	bool present = true;
	char path[4096];
	FILE *file;

	snprintf(path, sizeof(path), "%s/key.pem", input_dir);
	file = fopen(path, "w");
	assert_non_null(file);
	assert_true(PEM_write_X509(file, leaf));
	assert_true(PEM_write_PKCS8PrivateKey(file, key, EVP_aes_256_cbc(),
					      latin1, 4, NULL, NULL));
	assert_int_equal(fclose(file), 0);

	assert_int_equal(cp_store_import(f->store, path, &options, f->id,
					 &present, f->err, sizeof(f->err)),
			 -1);
	if (!strstr(f->err, "not UTF-8") || !strstr(f->err, path))
		fail_msg("unexpected message: %s", f->err);
	assert_null(strstr(f->err, latin1));
	assert_int_equal(count_entries(f->dir), 0);

	remove_tree(input_dir);
	free(input_dir);
	X509_free(leaf);
	EVP_PKEY_free(key);
}

/* A bundle whose chain is 40 CA certificates long keeps the first 10 above
 * the leaf (CP_CHAIN_MAX), in order. Ordering a crafted chain of 1,500
 * used to take 9 s, and the identity's chain then did not fit in a reply
 * to Select. */
static void
test_long_chain_cut(void **state)
{
	struct fixture *f = *state;
	EVP_PKEY *key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	char *input_dir = make_temp_dir("certpick-import-input");
	X509 *cas[40], *leaf;
	STACK_OF(X509) *chain;
	struct mint mint = {
		.issuer_key = key,
		.key = key,
		.not_before = time(NULL) - 60,
		.not_after = time(NULL) + 3600,
		.ca = true,
	};
	char names[40][16], path[4096];
	bool present = true;
	FILE *file;

	/* cas[39] is the root; cas[i] issued cas[i - 1]. */
	for (int i = 39; i >= 0; i--) {
		snprintf(names[i], sizeof(names[i]), "CA %d", i);
		mint.common_name = names[i];
		mint.issuer = i == 39 ? NULL : cas[i + 1];
		cas[i] = mint_certificate(&mint);
	}
	mint.common_name = "Long Chain";
	mint.issuer = cas[0];
	mint.ca = false;
	leaf = mint_certificate(&mint);

	snprintf(path, sizeof(path), "%s/bundle.pem", input_dir);
	file = fopen(path, "w");
	assert_non_null(file);
	assert_true(PEM_write_X509(file, leaf));
	assert_true(PEM_write_PrivateKey(file, key, NULL, NULL, 0, NULL, NULL));
	for (int i = 0; i < 40; i++) /* 7 and 40 are coprime: a shuffle */
		assert_true(PEM_write_X509(file, cas[(i * 7) % 40]));
	assert_int_equal(fclose(file), 0);

	assert_int_equal(cp_store_import(f->store, path, NULL, f->id, &present,
					 f->err, sizeof(f->err)),
			 0);
	chain = cp_identity_chain(cp_store_find(f->store, f->id));
	assert_int_equal(sk_X509_num(chain), 10);
	for (int i = 0; i < 10; i++)
		assert_int_equal(X509_cmp(sk_X509_value(chain, i), cas[i]), 0);

	for (int i = 0; i < 40; i++)
		X509_free(cas[i]);
	X509_free(leaf);
	EVP_PKEY_free(key);
	remove_tree(input_dir);
	free(input_dir);
}

#define TEST(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		TEST(test_pem_bundle),
		TEST(test_bundle_bom_crlf_any_order),
		TEST(test_separate_key_file),
		TEST(test_traditional_encrypted_rsa),
		TEST(test_traditional_encrypted_ec),
		TEST(test_pkcs8_encrypted),
		TEST(test_pkcs12_modern),
		TEST(test_pkcs12_legacy),
		TEST(test_pkcs12_empty_password),
		TEST(test_pkcs12_no_password),
		TEST(test_pkcs12_utf8_password),
		TEST(test_wrong_password),
		TEST(test_wrong_password_pem_key),
		TEST(test_password_tries),
		TEST(test_no_password_available),
		TEST(test_key_mismatch),
		TEST(test_duplicate),
		TEST(test_duplicate_other_format),
		TEST(test_chain_order_and_unrelated),
		TEST(test_label_option),
		TEST(test_label_invalid),
		TEST(test_utf8_label_from_subject),
		TEST(test_no_key),
		TEST(test_two_keys),
		TEST(test_not_a_certificate),
		TEST(test_missing_file),
		TEST(test_failed_write_leaves_nothing),
		TEST(test_unloadable_identity),
		TEST(test_import_restores_key),
		TEST(test_files_private),
		TEST(test_costly_key_derivation),
		TEST(test_password_not_utf8),
		TEST(test_long_chain_cut),
	};

	return cmocka_run_group_tests_name("import", tests, NULL, NULL);
}
