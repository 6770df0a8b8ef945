/* Import of identities into the store: PEM bundles in any order, a
 * certificate with a separate key file, and PKCS #12 files, with or
 * without a password. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/pkcs12.h>
#include <openssl/x509v3.h>

#include "log.h"
#include "store-private.h"
#include "varlink.h"

/* The maximum password length, in bytes. */
#define PASSWORD_MAX 1024

/* How often a wrong password may be given before import gives up. */
#define PASSWORD_TRIES 3

/* The maximum number of private keys kept while reading. An import uses
 * exactly one, and a second one makes it fail. */
#define KEYS_MAX 2

enum key_encoding {
	KEY_PKCS8,
	KEY_PKCS8_ENCRYPTED,
	KEY_TRADITIONAL, /* PKCS #1 or SEC 1, maybe with "Proc-Type" */
};

/* A private key as found in a file, not decoded yet. */
struct encoded_key {
	const char *file;
	enum key_encoding encoding;
	int type;     /* EVP_PKEY_RSA or EVP_PKEY_EC for KEY_TRADITIONAL */
	char *header; /* the PEM header lines of a KEY_TRADITIONAL key */
	unsigned char *der;
	long der_len;
};

struct import {
	const char *file;
	const struct cp_import_options *options;
	STACK_OF(X509) *certificates;
	struct encoded_key keys[KEYS_MAX];
	size_t n_keys; /* may exceed KEYS_MAX: counts every key seen */

	EVP_PKEY *key;
	const char *key_file; /* where key came from */

	/* The password that decrypted the key, kept to encrypt it at rest;
	 * NULL when the key was in clear or the password was empty. */
	char *password;
	size_t password_len;

	char *alias; /* a PKCS #12 friendlyName */
	char *err;
	size_t err_size;
};

static void
import_free(struct import *im)
{
	sk_X509_pop_free(im->certificates, X509_free);
	for (size_t i = 0; i < im->n_keys && i < KEYS_MAX; i++) {
		OPENSSL_secure_clear_free(im->keys[i].der,
					  (size_t)im->keys[i].der_len);
		OPENSSL_secure_free(im->keys[i].header);
	}
	EVP_PKEY_free(im->key);
	if (im->password)
		OPENSSL_secure_clear_free(im->password, im->password_len + 1);
	free(im->alias);
}

/* Reads a whole input file into secure memory, since it may hold a key in
 * clear. */
static int
read_input(struct import *im, const char *path, unsigned char **out,
	   size_t *out_len)
{
	unsigned char *data = OPENSSL_secure_malloc(CP_STORE_FILE_MAX + 1);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	size_t len = 0;
	ssize_t n = 0;

	if (!data || fd < 0) {
		cp_set_error(im->err, im->err_size, "cannot open %s: %s", path,
			     data ? strerror(errno) : "out of memory");
		goto fail;
	}
	while (len <= CP_STORE_FILE_MAX &&
	       (n = read(fd, data + len, CP_STORE_FILE_MAX + 1 - len)) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			cp_set_error(im->err, im->err_size,
				     "cannot read %s: %s", path,
				     strerror(errno));
			goto fail;
		}
		len += (size_t)n;
	}
	if (len > CP_STORE_FILE_MAX) {
		cp_set_error(im->err, im->err_size,
			     "%s is larger than %d bytes; it cannot be a "
			     "certificate bundle",
			     path, CP_STORE_FILE_MAX);
		goto fail;
	}
	close(fd);
	*out = data;
	*out_len = len;
	return 0;

fail:
	if (fd >= 0)
		close(fd);
	OPENSSL_secure_clear_free(data, CP_STORE_FILE_MAX + 1);
	return -1;
}

static int
add_certificate(struct import *im, X509 *certificate)
{
	if (!certificate || !sk_X509_push(im->certificates, certificate)) {
		X509_free(certificate);
		return -1;
	}
	return 0;
}

/* Keeps a copy of an encoded key; the caller keeps its own buffers. */
static int
add_encoded_key(struct import *im, const char *file, enum key_encoding encoding,
		int type, const char *header, const unsigned char *der,
		long der_len)
{
	struct encoded_key *key;

	if (im->n_keys++ >= KEYS_MAX)
		return 0;
	key = &im->keys[im->n_keys - 1];
	*key = (struct encoded_key){file, encoding, type, NULL, NULL, 0};
	key->der = OPENSSL_secure_malloc((size_t)der_len);
	key->header = OPENSSL_secure_malloc(strlen(header) + 1);
	if (!key->der || !key->header)
		return -1;
	memcpy(key->der, der, (size_t)der_len);
	key->der_len = der_len;
	strcpy(key->header, header);
	return 0;
}

static int
add_pem_block(struct import *im, const char *file, const char *name,
	      const char *header, const unsigned char *der, long len)
{
	const unsigned char *p = der;

	if (strcmp(name, PEM_STRING_X509) == 0 ||
	    strcmp(name, PEM_STRING_X509_OLD) == 0)
		return add_certificate(im, d2i_X509(NULL, &p, len));
	if (strcmp(name, PEM_STRING_X509_TRUSTED) == 0)
		return add_certificate(im, d2i_X509_AUX(NULL, &p, len));
	if (strcmp(name, PEM_STRING_PKCS8INF) == 0)
		return add_encoded_key(im, file, KEY_PKCS8, 0, header, der,
				       len);
	if (strcmp(name, PEM_STRING_PKCS8) == 0)
		return add_encoded_key(im, file, KEY_PKCS8_ENCRYPTED, 0, header,
				       der, len);
	if (strcmp(name, PEM_STRING_RSA) == 0)
		return add_encoded_key(im, file, KEY_TRADITIONAL, EVP_PKEY_RSA,
				       header, der, len);
	if (strcmp(name, PEM_STRING_ECPRIVATEKEY) == 0)
		return add_encoded_key(im, file, KEY_TRADITIONAL, EVP_PKEY_EC,
				       header, der, len);
	if (strcmp(name, PEM_STRING_DSA) == 0 ||
	    strcmp(name, "OPENSSH PRIVATE KEY") == 0) {
		cp_set_error(im->err, im->err_size,
			     "%s holds a %s, which TLS client authentication "
			     "in certpick cannot use",
			     file, name);
		return -1;
	}
	log_debug("%s: ignoring a PEM block of type %.40s", file, name);
	return 0;
}

/* Removes carriage returns before line feeds, in place; PEM readers take
 * lines that end with "\n". */
static size_t
strip_carriage_returns(unsigned char *data, size_t len)
{
	size_t n = 0;

	for (size_t i = 0; i < len; i++)
		if (!(data[i] == '\r' && i + 1 < len && data[i + 1] == '\n'))
			data[n++] = data[i];
	return n;
}

static int
read_pem(struct import *im, const char *file, unsigned char *data, size_t len)
{
	BIO *in = BIO_new_mem_buf(data, (int)len);
	int r = 0;

	if (!in)
		return -1;
	while (r == 0) {
		char *name = NULL, *header = NULL;
		unsigned char *der = NULL;
		long der_len = 0;
		unsigned long e;

		if (PEM_read_bio_ex(in, &name, &header, &der, &der_len,
				    PEM_FLAG_SECURE)) {
			r = add_pem_block(im, file, name, header, der, der_len);
			if (r < 0 && !im->err[0])
				cp_set_error(im->err, im->err_size,
					     "invalid %s block in %s: %s", name,
					     file, cp_openssl_reason());
			OPENSSL_secure_clear_free(der, (size_t)der_len);
			OPENSSL_secure_free(name);
			OPENSSL_secure_free(header);
			continue;
		}
		e = ERR_peek_last_error();
		if (ERR_GET_LIB(e) == ERR_LIB_PEM &&
		    ERR_GET_REASON(e) == PEM_R_NO_START_LINE) {
			ERR_clear_error();
			break;
		}
		cp_set_error(im->err, im->err_size, "invalid PEM in %s: %s",
			     file, cp_openssl_reason());
		r = -1;
	}
	BIO_free(in);
	return r;
}

/* Asks for a password through the import options. Returns its length, or
 * -1 when none can be had. */
static int
ask_password(struct import *im, const char *file, int attempt, char *password)
{
	char prompt[PATH_MAX + 64];
	int n;

	if (!im->options || !im->options->ask_password)
		return -1;
	snprintf(prompt, sizeof(prompt),
		 "%sPassword for %s: ", attempt ? "Wrong password. " : "",
		 file);
	n = im->options->ask_password(password, PASSWORD_MAX, prompt,
				      im->options->ask_password_arg);
	if (n < 0 || n >= PASSWORD_MAX)
		return -1;
	password[n] = '\0';
	return n;
}

static int
keep_password(struct import *im, const char *file, const char *password,
	      size_t len)
{
	if (len == 0)
		return 0;
	/* The key stays encrypted under this password. The picker sends a
	 * passphrase as a JSON string, which contains UTF-8 text without NUL
	 * bytes, so a key under another password could never be unlocked. */
	if (memchr(password, '\0', len) || !vl_utf8_valid(password, len)) {
		cp_set_error(im->err, im->err_size,
			     "the password of %s is not UTF-8 text (or has a "
			     "NUL byte), so the picker could never send it to "
			     "unlock the key; give the file a UTF-8 password "
			     "(openssl pkcs12 or openssl pkcs8 can) and import "
			     "it again",
			     file);
		return -1;
	}
	im->password = OPENSSL_secure_malloc(len + 1);
	if (!im->password)
		return -1;
	memcpy(im->password, password, len + 1);
	im->password_len = len;
	return 0;
}

static void
no_password_error(struct import *im, const char *file, int attempt)
{
	if (attempt == 0)
		cp_set_error(im->err, im->err_size,
			     "%s is encrypted and no password was given", file);
	else
		cp_set_error(im->err, im->err_size, "wrong password for %s",
			     file);
}

/* Appends advice to the message about a file whose key derivation needs
 * too much work. */
static void
add_export_advice(struct import *im)
{
	size_t len = strlen(im->err);

	snprintf(im->err + len, im->err_size - len,
		 "; export it again with fewer iterations");
}

/* Nesting of safeContents bags checked, at most; ASN.1 decoding already
 * bounds it. */
#define SAFE_CONTENTS_DEPTH_MAX 8

/* Checks the cost of every shrouded key bag, in bags and in the
 * safeContents bags they nest. */
static int
check_bags_cost(struct import *im, const char *file,
		const STACK_OF(PKCS12_SAFEBAG) *bags, int depth)
{
	char what[PATH_MAX + 32];

	snprintf(what, sizeof(what), "a private key in %s", file);
	for (int i = 0; i < sk_PKCS12_SAFEBAG_num(bags); i++) {
		const PKCS12_SAFEBAG *bag = sk_PKCS12_SAFEBAG_value(bags, i);
		const X509_ALGOR *algorithm = NULL;

		switch (PKCS12_SAFEBAG_get_nid(bag)) {
		case NID_pkcs8ShroudedKeyBag:
			X509_SIG_get0(PKCS12_SAFEBAG_get0_pkcs8(bag),
				      &algorithm, NULL);
			if (algorithm &&
			    cp_pbe_check_cost(algorithm, what, im->err,
					      im->err_size) < 0)
				return -1;
			break;
		case NID_safeContentsBag:
			if (depth < SAFE_CONTENTS_DEPTH_MAX &&
			    check_bags_cost(im, file,
					    PKCS12_SAFEBAG_get0_safes(bag),
					    depth + 1) < 0)
				return -1;
			break;
		}
	}
	return 0;
}

/* Checks, before PKCS12_parse derives any key, that the file's MAC and
 * encryption stay within CP_KDF_ITERATIONS_MAX, so that a crafted file
 * cannot stall the import. Encrypted parts are decrypted with password,
 * once their own cost is checked, to reach the key bags inside. A part
 * that the password does not decrypt is left to PKCS12_parse, which fails
 * on it. Returns 0, or -1 with the message in im->err. */
static int
check_pkcs12_cost(struct import *im, const char *file, const PKCS12 *p12,
		  const char *password)
{
	const ASN1_INTEGER *mac_iterations = NULL;
	STACK_OF(PKCS7) *safes;
	char what[PATH_MAX + 32];
	int r = 0;

	snprintf(what, sizeof(what), "the MAC of %s", file);
	PKCS12_get0_mac(NULL, NULL, NULL, &mac_iterations, p12);
	if (PKCS12_mac_present(p12) &&
	    cp_kdf_iterations_check(mac_iterations, what, im->err,
				    im->err_size) < 0) {
		add_export_advice(im);
		return -1;
	}
	safes = PKCS12_unpack_authsafes(p12);
	ERR_clear_error();
	snprintf(what, sizeof(what), "the encrypted content of %s", file);
	for (int i = 0; r == 0 && i < sk_PKCS7_num(safes); i++) {
		PKCS7 *safe = sk_PKCS7_value(safes, i);
		STACK_OF(PKCS12_SAFEBAG) *bags = NULL;

		switch (OBJ_obj2nid(safe->type)) {
		case NID_pkcs7_data:
			bags = PKCS12_unpack_p7data(safe);
			break;
		case NID_pkcs7_encrypted:
			if (safe->d.encrypted && safe->d.encrypted->enc_data)
				r = cp_pbe_check_cost(
					safe->d.encrypted->enc_data->algorithm,
					what, im->err, im->err_size);
			if (r == 0)
				bags = PKCS12_unpack_p7encdata(safe, password,
							       -1);
			break;
		}
		if (r == 0 && bags)
			r = check_bags_cost(im, file, bags, 0);
		sk_PKCS12_SAFEBAG_pop_free(bags, PKCS12_SAFEBAG_free);
	}
	sk_PKCS7_pop_free(safes, PKCS7_free);
	ERR_clear_error();
	if (r < 0)
		add_export_advice(im);
	return r;
}

/* Opens a PKCS #12 file with a password; NULL and "" try the empty one.
 * Returns 0, 1 when the password is wrong, -2 when opening the file needs
 * too much work, -1 on another error. */
static int
parse_pkcs12(struct import *im, const char *file, PKCS12 *p12,
	     const char *password)
{
	EVP_PKEY *key = NULL;
	X509 *certificate = NULL;
	STACK_OF(X509) *others = NULL;
	const unsigned char *alias;
	int alias_len = 0;

	if (check_pkcs12_cost(im, file, p12, password) < 0)
		return -2;
	if (!PKCS12_parse(p12, password, &key, &certificate, &others)) {
		unsigned long e = ERR_peek_last_error();

		if (ERR_GET_LIB(e) == ERR_LIB_PKCS12 &&
		    ERR_GET_REASON(e) == PKCS12_R_MAC_VERIFY_FAILURE) {
			ERR_clear_error();
			return 1;
		}
		cp_set_error(im->err, im->err_size, "cannot read %s: %s%s",
			     file, cp_openssl_reason(),
			     cp_store_legacy_loaded()
				     ? ""
				     : " (OpenSSL's legacy provider, which "
				       "RC2 and 3DES need, is not available)");
		return -1;
	}

	alias = certificate ? X509_alias_get0(certificate, &alias_len) : NULL;
	if (alias && alias_len > 0)
		im->alias = strndup((const char *)alias, (size_t)alias_len);
	if (certificate)
		add_certificate(im, certificate);
	while (sk_X509_num(others) > 0)
		add_certificate(im, sk_X509_shift(others));
	sk_X509_free(others);
	if (key) {
		im->key = key;
		im->key_file = file;
	}
	return 0;
}

static int
read_pkcs12(struct import *im, const char *file, PKCS12 *p12)
{
	char *password = OPENSSL_secure_malloc(PASSWORD_MAX);
	int r, n = 0;

	if (!password)
		return -1;

	/* Without a MAC, or with one under the empty password, the file
	 * needs no password. A MAC that fails to verify means it needs one. */
	r = parse_pkcs12(im, file, p12, "");
	if (r == -1 && !PKCS12_mac_present(p12))
		r = 1; /* contents encrypted under a password, but no MAC */
	for (int attempt = 0; r == 1 && attempt < PASSWORD_TRIES; attempt++) {
		im->err[0] = '\0';
		n = ask_password(im, file, attempt, password);
		if (n < 0) {
			no_password_error(im, file, attempt);
			r = -1;
			break;
		}
		r = parse_pkcs12(im, file, p12, password);
	}
	if (r == 1)
		no_password_error(im, file, PASSWORD_TRIES);
	if (r == 0 && keep_password(im, file, password, (size_t)n) < 0)
		r = -1;
	OPENSSL_secure_clear_free(password, PASSWORD_MAX);
	return r == 0 ? 0 : -1;
}

/* Reads DER input: PKCS #12, a certificate, or a PKCS #8 key. Returns 0,
 * 1 for another format, or -1 on an error. */
static int
read_der(struct import *im, const char *file, const unsigned char *data,
	 size_t len)
{
	PKCS12 *p12 = PKCS12_init_ex(NID_pkcs7_data, cp_store_libctx(), NULL);
	const unsigned char *p = data;
	X509_SIG *encrypted;
	PKCS8_PRIV_KEY_INFO *info;
	X509 *certificate;
	int r;

	/* d2i into an object from PKCS12_init_ex keeps its library context,
	 * so that the legacy algorithms can be fetched. On failure d2i frees
	 * the object and sets it to NULL. */
	if (p12 && d2i_PKCS12(&p12, &p, (long)len) && p == data + len) {
		r = read_pkcs12(im, file, p12);
		PKCS12_free(p12);
		return r;
	}
	PKCS12_free(p12);
	ERR_clear_error();

	p = data;
	if ((certificate = d2i_X509(NULL, &p, (long)len)) && p == data + len)
		return add_certificate(im, certificate);
	X509_free(certificate);

	p = data;
	if ((encrypted = d2i_X509_SIG(NULL, &p, (long)len)) &&
	    p == data + len) {
		X509_SIG_free(encrypted);
		return add_encoded_key(im, file, KEY_PKCS8_ENCRYPTED, 0, "",
				       data, (long)len);
	}
	X509_SIG_free(encrypted);

	p = data;
	if ((info = d2i_PKCS8_PRIV_KEY_INFO(NULL, &p, (long)len)) &&
	    p == data + len) {
		PKCS8_PRIV_KEY_INFO_free(info);
		return add_encoded_key(im, file, KEY_PKCS8, 0, "", data,
				       (long)len);
	}
	PKCS8_PRIV_KEY_INFO_free(info);
	ERR_clear_error();
	return 1;
}

/* Reads one input file of any supported format into im. */
static int
read_file(struct import *im, const char *file)
{
	static const unsigned char bom[] = {0xef, 0xbb, 0xbf};
	unsigned char *data = NULL, *text;
	size_t len = 0, allocated = CP_STORE_FILE_MAX + 1;
	int r;

	if (read_input(im, file, &data, &len) < 0)
		return -1;
	text = data;
	if (len >= sizeof(bom) && memcmp(text, bom, sizeof(bom)) == 0) {
		text += sizeof(bom);
		len -= sizeof(bom);
	}

	if (memmem(text, len, "-----BEGIN ", 11)) {
		len = strip_carriage_returns(text, len);
		r = read_pem(im, file, text, len);
	} else {
		r = read_der(im, file, text, len);
		if (r > 0) {
			cp_set_error(im->err, im->err_size,
				     "%s is neither PEM, PKCS #12, nor a DER "
				     "certificate or PKCS #8 key",
				     file);
			r = -1;
		}
	}
	OPENSSL_secure_clear_free(data, allocated);
	return r;
}

/* Decrypts a traditional PEM key ("Proc-Type: 4,ENCRYPTED"). PEM's own
 * routine fetches ciphers from the default library context only; doing
 * the same steps here reaches the legacy provider for DES. The key is
 * MD5 over password and salt, once, as OpenSSL has always derived it. */
static int
decrypt_traditional(const struct encoded_key *key, const char *password,
		    size_t password_len, unsigned char *plain, int *plain_len)
{
	EVP_CIPHER_INFO info;
	EVP_CIPHER *cipher = NULL;
	EVP_CIPHER_CTX *ctx = NULL;
	unsigned char secret[EVP_MAX_KEY_LENGTH];
	int n = 0, last = 0, r = -1;

	if (!PEM_get_EVP_CIPHER_INFO(key->header, &info) || !info.cipher)
		return -1;
	cipher = EVP_CIPHER_fetch(cp_store_libctx(),
				  EVP_CIPHER_get0_name(info.cipher), NULL);
	ctx = EVP_CIPHER_CTX_new();
	if (!cipher || !ctx ||
	    !EVP_BytesToKey(info.cipher, EVP_md5(), info.iv,
			    (const unsigned char *)password, (int)password_len,
			    1, secret, NULL) ||
	    !EVP_DecryptInit_ex2(ctx, cipher, secret, info.iv, NULL))
		goto out;
	r = 1; /* from here on, a failure means a wrong password */
	if (EVP_DecryptUpdate(ctx, plain, &n, key->der, (int)key->der_len) &&
	    EVP_DecryptFinal_ex(ctx, plain + n, &last)) {
		*plain_len = n + last;
		r = 0;
	}
out:
	OPENSSL_cleanse(secret, sizeof(secret));
	EVP_CIPHER_CTX_free(ctx);
	EVP_CIPHER_free(cipher);
	return r;
}

static EVP_PKEY *
decode_traditional(int type, const unsigned char *der, long len)
{
	const unsigned char *p = der;

	return d2i_PrivateKey_ex(type, NULL, &p, len, cp_store_libctx(), NULL);
}

static EVP_PKEY *
decode_pkcs8(const PKCS8_PRIV_KEY_INFO *info)
{
	return EVP_PKCS82PKEY_ex(info, cp_store_libctx(), NULL);
}

static bool
traditional_encrypted(const struct encoded_key *key)
{
	return strstr(key->header, "ENCRYPTED") != NULL;
}

/* Decodes a key with a password (NULL for a key in clear). Returns 0 with
 * the key in im, 1 when the password is wrong, -1 on another error. */
static int
decode_key(struct import *im, const struct encoded_key *key,
	   const char *password, size_t password_len)
{
	const unsigned char *p = key->der;
	PKCS8_PRIV_KEY_INFO *info = NULL;
	X509_SIG *encrypted = NULL;
	unsigned char *plain = NULL;
	int plain_len = 0, r;

	switch (key->encoding) {
	case KEY_PKCS8:
		info = d2i_PKCS8_PRIV_KEY_INFO(NULL, &p, key->der_len);
		im->key = info ? decode_pkcs8(info) : NULL;
		PKCS8_PRIV_KEY_INFO_free(info);
		return im->key ? 0 : -1;
	case KEY_PKCS8_ENCRYPTED:
		encrypted = d2i_X509_SIG(NULL, &p, key->der_len);
		if (!encrypted)
			return -1;
		info = PKCS8_decrypt_ex(encrypted, password, (int)password_len,
					cp_store_libctx(), NULL);
		X509_SIG_free(encrypted);
		if (!info)
			return 1;
		im->key = decode_pkcs8(info);
		PKCS8_PRIV_KEY_INFO_free(info);
		return im->key ? 0 : -1;
	case KEY_TRADITIONAL:
		if (!traditional_encrypted(key)) {
			im->key = decode_traditional(key->type, key->der,
						     key->der_len);
			return im->key ? 0 : -1;
		}
		plain = OPENSSL_secure_malloc((size_t)key->der_len +
					      EVP_MAX_BLOCK_LENGTH);
		if (!plain)
			return -1;
		r = decrypt_traditional(key, password, password_len, plain,
					&plain_len);
		if (r == 0) {
			im->key =
				decode_traditional(key->type, plain, plain_len);
			r = im->key ? 0 : 1; /* garbage after a lucky pad */
		}
		OPENSSL_secure_clear_free(plain, (size_t)key->der_len +
							 EVP_MAX_BLOCK_LENGTH);
		return r;
	}
	return -1;
}

static bool
key_encrypted(const struct encoded_key *key)
{
	return key->encoding == KEY_PKCS8_ENCRYPTED ||
	       (key->encoding == KEY_TRADITIONAL && traditional_encrypted(key));
}

static int
unlock_key(struct import *im, const struct encoded_key *key)
{
	char *password = OPENSSL_secure_malloc(PASSWORD_MAX);
	int r = 1, n = 0;

	if (!password)
		return -1;
	for (int attempt = 0; r == 1 && attempt < PASSWORD_TRIES; attempt++) {
		n = ask_password(im, key->file, attempt, password);
		if (n < 0) {
			no_password_error(im, key->file, attempt);
			r = -1;
			break;
		}
		ERR_clear_error();
		r = decode_key(im, key, password, (size_t)n);
	}
	if (r == 1)
		no_password_error(im, key->file, PASSWORD_TRIES);
	else if (r < 0 && !im->err[0])
		cp_set_error(im->err, im->err_size,
			     "cannot decode the private key in %s: %s",
			     key->file, cp_openssl_reason());
	if (r == 0 && keep_password(im, key->file, password, (size_t)n) < 0)
		r = -1;
	OPENSSL_secure_clear_free(password, PASSWORD_MAX);
	return r == 0 ? 0 : -1;
}

/* Checks the cost of an encrypted PKCS #8 key's PBES2 or PBES1 before
 * the password is asked for. Traditional PEM encryption derives its key
 * with a single MD5 pass. */
static int
check_key_cost(struct import *im, const struct encoded_key *key)
{
	const unsigned char *p = key->der;
	const X509_ALGOR *algorithm = NULL;
	char what[PATH_MAX + 32];
	X509_SIG *encrypted;
	int r = 0;

	if (key->encoding != KEY_PKCS8_ENCRYPTED)
		return 0;
	encrypted = d2i_X509_SIG(NULL, &p, key->der_len);
	if (!encrypted)
		return 0; /* decode_key reports it */
	X509_SIG_get0(encrypted, &algorithm, NULL);
	snprintf(what, sizeof(what), "the private key in %s", key->file);
	r = cp_pbe_check_cost(algorithm, what, im->err, im->err_size);
	X509_SIG_free(encrypted);
	if (r < 0)
		add_export_advice(im);
	return r;
}

static const char *
input_files(const struct import *im, char *buffer, size_t size)
{
	if (im->options && im->options->key_file)
		snprintf(buffer, size, "%s or %s", im->file,
			 im->options->key_file);
	else
		snprintf(buffer, size, "%s", im->file);
	return buffer;
}

/* Settles on the one private key of the import and decodes it. */
static int
take_key(struct import *im)
{
	char files[2 * PATH_MAX + 8];
	size_t n = im->n_keys + (im->key ? 1 : 0);

	if (n == 0) {
		cp_set_error(im->err, im->err_size,
			     "no private key in %s; give the key file with "
			     "--key KEYFILE",
			     input_files(im, files, sizeof(files)));
		return -1;
	}
	if (n > 1) {
		cp_set_error(im->err, im->err_size,
			     "%zu private keys in %s; import one identity at "
			     "a time",
			     n, input_files(im, files, sizeof(files)));
		return -1;
	}
	if (im->key)
		return 0;

	im->key_file = im->keys[0].file;
	if (check_key_cost(im, &im->keys[0]) < 0)
		return -1;
	if (key_encrypted(&im->keys[0]))
		return unlock_key(im, &im->keys[0]);
	if (decode_key(im, &im->keys[0], NULL, 0) == 0)
		return 0;
	cp_set_error(im->err, im->err_size,
		     "cannot decode the private key in %s: %s", im->key_file,
		     cp_openssl_reason());
	return -1;
}

static X509 *
find_leaf(struct import *im)
{
	char files[2 * PATH_MAX + 8];
	int n = sk_X509_num(im->certificates);

	for (int i = 0; i < n; i++) {
		X509 *certificate = sk_X509_value(im->certificates, i);

		if (X509_check_private_key(certificate, im->key) == 1)
			return certificate;
		ERR_clear_error();
	}
	if (n == 0)
		cp_set_error(im->err, im->err_size, "no certificate in %s",
			     input_files(im, files, sizeof(files)));
	else if (n == 1)
		cp_set_error(im->err, im->err_size,
			     "the private key in %s does not belong to the "
			     "certificate in %s",
			     im->key_file, im->file);
	else
		cp_set_error(im->err, im->err_size,
			     "none of the %d certificates in %s belongs to the "
			     "private key in %s",
			     n, input_files(im, files, sizeof(files)),
			     im->key_file);
	return NULL;
}

static bool
self_issued(X509 *certificate)
{
	return X509_get_extension_flags(certificate) & EXFLAG_SI;
}

/* Orders the certificates that certify the leaf from its issuer up to the
 * root (when present), at most CP_CHAIN_MAX of them, and leaves out the
 * others. Returns a new stack of borrowed certificates. */
static STACK_OF(X509) *
order_chain(struct import *im, X509 *leaf)
{
	int n = sk_X509_num(im->certificates), dropped = 0;
	STACK_OF(X509) *chain = sk_X509_new_null();
	bool *taken = calloc(n > 0 ? (size_t)n : 1, sizeof(*taken));
	X509 *top = leaf;

	if (!chain || !taken) {
		sk_X509_free(chain);
		free(taken);
		return NULL;
	}
	for (int i = 0; i < n; i++)
		taken[i] =
			X509_cmp(sk_X509_value(im->certificates, i), leaf) == 0;
	while (!self_issued(top) && sk_X509_num(chain) < CP_CHAIN_MAX) {
		int issuer = -1;

		for (int i = 0; issuer < 0 && i < n; i++)
			if (!taken[i] &&
			    X509_check_issued(
				    sk_X509_value(im->certificates, i), top) ==
				    X509_V_OK)
				issuer = i;
		if (issuer < 0 ||
		    !sk_X509_push(chain,
				  sk_X509_value(im->certificates, issuer)))
			break;
		top = sk_X509_value(im->certificates, issuer);
		/* Copies of a certificate in the chain are not left out. */
		for (int i = 0; i < n; i++)
			taken[i] |= X509_cmp(sk_X509_value(im->certificates, i),
					     top) == 0;
	}
	for (int i = 0; i < n; i++)
		dropped += !taken[i];
	if (dropped)
		log_info("%s: left out %d certificates that do not certify "
			 "the identity's certificate, or that make its chain "
			 "longer than %d",
			 im->file, dropped, CP_CHAIN_MAX);
	free(taken);
	return chain;
}

static int
check_key(struct import *im)
{
	int curve = NID_undef;
	const char *type = cp_key_type_of(im->key, &curve);

	if (!type) {
		cp_set_error(im->err, im->err_size,
			     "the %s key in %s cannot sign for TLS client "
			     "authentication (certpick uses RSA, RSA-PSS, EC, "
			     "Ed25519 and Ed448 keys)",
			     EVP_PKEY_get0_type_name(im->key), im->key_file);
		return -1;
	}
	if (strcmp(type, "EC") == 0 && curve == NID_undef) {
		cp_set_error(im->err, im->err_size,
			     "the EC key in %s has explicit curve parameters; "
			     "TLS needs a named curve",
			     im->key_file);
		return -1;
	}
	return 0;
}

/* Cuts text to at most max bytes without splitting a UTF-8 sequence. */
static void
truncate_utf8(char *text, size_t max)
{
	size_t len = strlen(text);

	if (len <= max)
		return;
	while (max > 0 && ((unsigned char)text[max] & 0xc0) == 0x80)
		max--;
	text[max] = '\0';
}

/* The label: --label, else the PKCS #12 friendlyName, else the subject's
 * commonName, else the whole subject. */
static char *
choose_label(struct import *im, X509 *leaf)
{
	const char *given = im->options ? im->options->label : NULL;
	char *label = NULL;

	if (given) {
		if (!given[0] || strlen(given) > CP_LABEL_MAX ||
		    !cp_utf8_printable(given, strlen(given))) {
			cp_set_error(im->err, im->err_size,
				     "invalid label: it must be UTF-8 text of "
				     "1 to %d bytes without control "
				     "characters",
				     CP_LABEL_MAX);
			return NULL;
		}
		return strdup(given);
	}
	if (im->alias && im->alias[0] &&
	    cp_utf8_printable(im->alias, strlen(im->alias)))
		label = strdup(im->alias);
	if (!label || !label[0]) {
		free(label);
		label = cp_name_common_name(X509_get_subject_name(leaf));
	}
	if (label && !label[0]) {
		free(label);
		label = cp_name_to_string(X509_get_subject_name(leaf));
	}
	if (label)
		truncate_utf8(label, CP_LABEL_MAX);
	else
		cp_set_error(im->err, im->err_size, "out of memory");
	return label;
}

/* The absolute path of the input, with bytes that are not printable
 * UTF-8 replaced by '?', since the store keeps it as text. */
static char *
source_of(const char *file)
{
	char *source = realpath(file, NULL);

	if (!source)
		source = strdup(file);
	if (source && !cp_utf8_printable(source, strlen(source)))
		for (char *p = source; *p; p++)
			if ((unsigned char)*p < 0x20 ||
			    (unsigned char)*p >= 0x7f)
				*p = '?';
	return source;
}

/* Checks the identity file as the store checks it at load, so that import
 * never reports an identity that the store then skips, such as one whose
 * certificate's validity period does not parse. */
static int
check_loadable(struct import *im, const char *name, const char *data,
	       size_t len)
{
	char reason[512] = "";
	struct cp_identity *identity =
		cp_identity_file_parse(name, data, len, reason, sizeof(reason));

	if (identity &&
	    cp_identity_precompute(identity, reason, sizeof(reason)) < 0) {
		cp_identity_free(identity);
		identity = NULL;
	}
	if (!identity) {
		cp_set_error(im->err, im->err_size, "%s cannot be imported: %s",
			     im->file, reason);
		return -1;
	}
	cp_identity_free(identity);
	return 0;
}

static int
write_identity(struct cp_store *store, struct import *im, X509 *leaf,
	       STACK_OF(X509) *chain, const char *id)
{
	char *label = choose_label(im, leaf);
	char *source = label ? source_of(im->file) : NULL;
	struct cp_identity_record record = {
		label,	      source,		leaf, chain, im->key,
		im->password, im->password_len,
	};
	char name[CP_IDENTITY_ID_SIZE + sizeof(CP_STORE_FILE_SUFFIX)];
	BIO *file = NULL;
	char *data = NULL;
	long len;
	int r = -1;

	if (!label || !source) {
		if (!im->err[0])
			cp_set_error(im->err, im->err_size, "out of memory");
		goto out;
	}
	file = cp_identity_file_format(&record, im->err, im->err_size);
	if (!file)
		goto out;
	len = BIO_get_mem_data(file, &data);
	snprintf(name, sizeof(name), "%s%s", id, CP_STORE_FILE_SUFFIX);
	if (check_loadable(im, name, data, (size_t)len) < 0)
		goto out;
	r = cp_store_write_file(store, name, data, (size_t)len, im->err,
				im->err_size);
out:
	BIO_free(file);
	free(label);
	free(source);
	return r;
}

/* Reads the inputs and settles on the key, the leaf and its chain. */
static int
read_identity(struct import *im, X509 **leaf, STACK_OF(X509) **chain)
{
	if (read_file(im, im->file) < 0)
		return -1;
	if (im->options && im->options->key_file &&
	    read_file(im, im->options->key_file) < 0)
		return -1;
	if (take_key(im) < 0 || check_key(im) < 0)
		return -1;
	*leaf = find_leaf(im);
	if (!*leaf)
		return -1;
	*chain = order_chain(im, *leaf);
	if (!*chain) {
		cp_set_error(im->err, im->err_size, "out of memory");
		return -1;
	}
	return 0;
}

int
cp_store_import(struct cp_store *store, const char *file,
		const struct cp_import_options *options,
		char id[CP_IDENTITY_ID_SIZE], bool *already_present, char *err,
		size_t err_size)
{
	struct import im = {
		.file = file,
		.options = options,
		.certificates = sk_X509_new_null(),
		.err = err,
		.err_size = err_size,
	};
	STACK_OF(X509) *chain = NULL;
	struct cp_identity *existing;
	X509 *leaf = NULL;
	int r = -1;

	*already_present = false;
	if (err_size == 0 || !im.certificates) {
		import_free(&im);
		return -1;
	}
	err[0] = '\0';
	if (read_identity(&im, &leaf, &chain) < 0)
		goto out;
	if (cp_certificate_id(leaf, id) < 0) {
		cp_set_error(err, err_size, "cannot hash the certificate");
		goto out;
	}

	/* An identity already there stays as it is, unless its file lost
	 * its key, which this import restores. */
	if (cp_store_refresh(store, err, err_size) < 0)
		goto out;
	existing = cp_store_find(store, id);
	if (existing && cp_identity_key_available(existing)) {
		*already_present = true;
		r = 0;
		goto out;
	}

	if (write_identity(store, &im, leaf, chain, id) < 0)
		goto out;
	r = cp_store_reload(store, err, err_size);
out:
	sk_X509_free(chain);
	import_free(&im);
	return r;
}
