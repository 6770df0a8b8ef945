/* Helpers for the identity store tests and the matcher benchmark. */
#include "support.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

const char *
pki_path(const char *relative)
{
	static char path[4096];
	const char *pki = getenv("CERTPICK_TEST_PKI");

	if (!pki) {
		fprintf(stderr, "CERTPICK_TEST_PKI is not set; run the tests "
				"with meson test\n");
		abort();
	}
	snprintf(path, sizeof(path), "%s/%s", pki, relative);
	return path;
}

char *
make_temp_dir(const char *prefix)
{
	const char *tmp = getenv("TMPDIR");
	char *path;

	if (!tmp || !tmp[0])
		tmp = "/tmp";
	if (asprintf(&path, "%s/%s-XXXXXX", tmp, prefix) < 0)
		abort();
	if (!mkdtemp(path))
		abort();
	return path;
}

void
remove_tree(const char *path)
{
	DIR *dir = opendir(path);
	struct dirent *entry;

	if (!dir) {
		unlink(path);
		return;
	}
	chmod(path, 0700);
	while ((entry = readdir(dir))) {
		char *child;

		if (strcmp(entry->d_name, ".") == 0 ||
		    strcmp(entry->d_name, "..") == 0)
			continue;
		if (asprintf(&child, "%s/%s", path, entry->d_name) < 0)
			abort();
		remove_tree(child);
		free(child);
	}
	closedir(dir);
	rmdir(path);
}

int
count_entries(const char *path)
{
	DIR *dir = opendir(path);
	struct dirent *entry;
	int n = 0;

	if (!dir)
		return -1;
	while ((entry = readdir(dir)))
		if (strcmp(entry->d_name, ".") != 0 &&
		    strcmp(entry->d_name, "..") != 0)
			n++;
	closedir(dir);
	return n;
}

char *
read_text(const char *path, size_t *len)
{
	FILE *file = fopen(path, "rb");
	char *data = NULL;
	long size;

	if (!file)
		return NULL;
	if (fseek(file, 0, SEEK_END) == 0 && (size = ftell(file)) >= 0 &&
	    fseek(file, 0, SEEK_SET) == 0 && (data = malloc((size_t)size + 1)))
		if (fread(data, 1, (size_t)size, file) == (size_t)size) {
			data[size] = '\0';
			if (len)
				*len = (size_t)size;
			fclose(file);
			return data;
		}
	free(data);
	fclose(file);
	return NULL;
}

int
test_password_cb(char *buffer, size_t size, const char *prompt, void *arg)
{
	struct test_password *password = arg;
	size_t len = strlen(password->password);

	if (password->calls++ >= password->max_calls || len >= size)
		return -1;
	memcpy(buffer, password->password, len + 1);
	return (int)len;
}

int
import_pki(struct cp_store *store, const char *file, const char *key,
	   const char *password, char id[CP_IDENTITY_ID_SIZE], char *err,
	   size_t err_size)
{
	struct test_password source = {password, 1, 0};
	struct cp_import_options options = {0};
	char file_path[4096], key_path[4096];
	bool already;

	snprintf(file_path, sizeof(file_path), "%s", pki_path(file));
	if (key) {
		snprintf(key_path, sizeof(key_path), "%s", pki_path(key));
		options.key_file = key_path;
	}
	if (password) {
		options.ask_password = test_password_cb;
		options.ask_password_arg = &source;
	}
	return cp_store_import(store, file_path, &options, id, &already, err,
			       err_size);
}

X509 *
load_pki_certificate(const char *relative)
{
	FILE *file = fopen(pki_path(relative), "r");
	X509 *certificate = file ? PEM_read_X509(file, NULL, NULL, NULL) : NULL;

	if (file)
		fclose(file);
	if (!certificate) {
		fprintf(stderr, "cannot load %s\n", pki_path(relative));
		abort();
	}
	return certificate;
}

EVP_PKEY *
load_pki_key(const char *relative)
{
	FILE *file = fopen(pki_path(relative), "r");
	EVP_PKEY *key =
		file ? PEM_read_PrivateKey(file, NULL, NULL, NULL) : NULL;

	if (file)
		fclose(file);
	if (!key) {
		fprintf(stderr, "cannot load %s\n", pki_path(relative));
		abort();
	}
	return key;
}

static void
add_extension(X509 *certificate, X509V3_CTX *ctx, int nid, const char *value)
{
	X509_EXTENSION *extension = X509V3_EXT_conf_nid(NULL, ctx, nid, value);

	if (!extension || !X509_add_ext(certificate, extension, -1))
		abort();
	X509_EXTENSION_free(extension);
}

X509 *
mint_certificate(const struct mint *mint)
{
	X509 *certificate = X509_new();
	X509_NAME *name = X509_NAME_new();
	X509 *issuer = mint->issuer ? mint->issuer : certificate;
	time_t not_before = mint->not_before, not_after = mint->not_after;
	unsigned char serial[8];
	BIGNUM *bn;
	X509V3_CTX ctx;

	RAND_bytes(serial, sizeof(serial));
	serial[0] &= 0x7f;
	bn = BN_bin2bn(serial, sizeof(serial), NULL);
	if (!certificate || !name || !bn ||
	    !X509_set_version(certificate, X509_VERSION_3) ||
	    !BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(certificate)) ||
	    !X509_NAME_add_entry_by_txt(name, "O", MBSTRING_UTF8,
					(const unsigned char *)"certpick test",
					-1, -1, 0) ||
	    !X509_NAME_add_entry_by_txt(
		    name, "CN", MBSTRING_UTF8,
		    (const unsigned char *)mint->common_name, -1, -1, 0) ||
	    !X509_set_subject_name(certificate, name) ||
	    !X509_set_issuer_name(certificate, X509_get_subject_name(issuer)) ||
	    !X509_time_adj_ex(X509_getm_notBefore(certificate), 0, 0,
			      &not_before) ||
	    !X509_time_adj_ex(X509_getm_notAfter(certificate), 0, 0,
			      &not_after) ||
	    !X509_set_pubkey(certificate, mint->key))
		abort();
	BN_free(bn);
	X509_NAME_free(name);

	X509V3_set_ctx(&ctx, issuer, certificate, NULL, NULL, 0);
	add_extension(certificate, &ctx, NID_basic_constraints,
		      mint->ca ? "critical,CA:TRUE" : "critical,CA:FALSE");
	add_extension(certificate, &ctx, NID_key_usage,
		      mint->ca ? "critical,keyCertSign,cRLSign"
			       : "critical,digitalSignature");
	if (!mint->ca)
		add_extension(certificate, &ctx, NID_ext_key_usage,
			      "clientAuth");
	add_extension(certificate, &ctx, NID_subject_key_identifier, "hash");
	if (mint->issuer)
		add_extension(certificate, &ctx, NID_authority_key_identifier,
			      "keyid:always");

	if (!X509_sign(certificate, mint->issuer_key, EVP_sha256()))
		abort();
	return certificate;
}

int
identity_file_path(const char *dir, X509 *leaf, char *path, size_t size)
{
	unsigned char digest[32];
	unsigned int digest_len = 0;
	size_t n;

	if (!X509_digest(leaf, EVP_sha256(), digest, &digest_len))
		return -1;
	n = (size_t)snprintf(path, size, "%s/", dir);
	for (unsigned i = 0; i < digest_len; i++)
		n += (size_t)snprintf(path + n, size - n, "%02x", digest[i]);
	snprintf(path + n, size - n, ".pem");
	return 0;
}

X509_SIG *
make_costly_encrypted_key(int iterations)
{
	unsigned char salt[16], ciphertext[64];
	X509_ALGOR *algorithm = NULL, *slot = NULL;
	ASN1_OCTET_STRING *digest = NULL;
	X509_SIG *sig = X509_SIG_new();

	if (!sig || RAND_bytes(salt, sizeof(salt)) != 1 ||
	    RAND_bytes(ciphertext, sizeof(ciphertext)) != 1)
		goto fail;
	algorithm = PKCS5_pbe2_set_iv(EVP_aes_256_cbc(), iterations, salt,
				      sizeof(salt), NULL, NID_hmacWithSHA256);
	X509_SIG_getm(sig, &slot, &digest);
	if (!algorithm || !X509_ALGOR_copy(slot, algorithm) ||
	    !ASN1_OCTET_STRING_set(digest, ciphertext, sizeof(ciphertext)))
		goto fail;
	X509_ALGOR_free(algorithm);
	return sig;

fail:
	X509_ALGOR_free(algorithm);
	X509_SIG_free(sig);
	return NULL;
}

int
write_identity_file(const char *dir, const char *label, X509 *leaf,
		    STACK_OF(X509) *chain, EVP_PKEY *key)
{
	char path[4096];
	FILE *file;
	int r = 0;

	if (identity_file_path(dir, leaf, path, sizeof(path)) < 0)
		return -1;
	file = fopen(path, "w");
	if (!file)
		return -1;
	fchmod(fileno(file), 0600);
	fprintf(file,
		"certpick-identity: 1\nlabel: %s\nsource: made by "
		"a test\n",
		label);
	if (!PEM_write_X509(file, leaf))
		r = -1;
	for (int i = 0; i < sk_X509_num(chain); i++)
		if (!PEM_write_X509(file, sk_X509_value(chain, i)))
			r = -1;
	if (key && !PEM_write_PrivateKey(file, key, NULL, NULL, 0, NULL, NULL))
		r = -1;
	if (fclose(file) != 0)
		r = -1;
	return r;
}

struct cp_identity *
find_by_label(const struct cp_store *store, const char *label)
{
	for (size_t i = 0; i < cp_store_count(store); i++)
		if (strcmp(cp_identity_label(cp_store_get(store, i)), label) ==
		    0)
			return cp_store_get(store, i);
	return NULL;
}
