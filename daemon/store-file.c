/* The identity file format: a few "name: value" header lines, then the
 * leaf certificate, its chain and its private key as PEM blocks.
 * data/doc/store-format.md describes it for people. */
#include <stdio.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/pkcs12.h>

#include "log.h"
#include "store-private.h"

/* The PBES2 salt length at rest, in bytes (RFC 8018 recommends at least
 * 8). */
#define KEY_SALT_SIZE 16

/* Header values are percent-encoded: control characters and '%' become
 * "%XX", so a value always fits on its line. */
static int
write_header(BIO *out, const char *name, const char *value)
{
	if (BIO_printf(out, "%s: ", name) <= 0)
		return -1;
	for (const unsigned char *p = (const unsigned char *)value; *p; p++) {
		int r;

		if (*p < 0x20 || *p == 0x7f || *p == '%')
			r = BIO_printf(out, "%%%02X", *p);
		else
			r = BIO_write(out, p, 1);
		if (r <= 0)
			return -1;
	}
	return BIO_puts(out, "\n") > 0 ? 0 : -1;
}

static int
write_headers(BIO *out, const struct cp_identity_record *record)
{
	char imported[32];
	time_t now = time(NULL);
	struct tm tm;
	char version[16];

	gmtime_r(&now, &tm);
	strftime(imported, sizeof(imported), "%Y-%m-%dT%H:%M:%SZ", &tm);
	snprintf(version, sizeof(version), "%d", CP_STORE_FORMAT_VERSION);

	if (write_header(out, "certpick-identity", version) < 0 ||
	    write_header(out, "label", record->label) < 0 ||
	    write_header(out, "source", record->source) < 0 ||
	    write_header(out, "imported", imported) < 0)
		return -1;
	return 0;
}

/* Writes the key as PKCS #8: in clear, or as PBES2 with PBKDF2-HMAC-SHA256
 * and AES-256-CBC when the record has a passphrase. */
static int
write_key(BIO *out, const struct cp_identity_record *record, char *err,
	  size_t err_size)
{
	PKCS8_PRIV_KEY_INFO *info = EVP_PKEY2PKCS8(record->key);
	EVP_CIPHER *cipher = NULL;
	X509_SIG *encrypted = NULL;
	int r = -1;

	if (!info) {
		cp_set_error(err, err_size, "cannot encode the private key: %s",
			     cp_openssl_reason());
		return -1;
	}
	if (!record->passphrase) {
		if (PEM_write_bio_PKCS8_PRIV_KEY_INFO(out, info))
			r = 0;
		goto out;
	}

	cipher = EVP_CIPHER_fetch(cp_store_libctx(), "AES-256-CBC", NULL);
	if (cipher)
		encrypted = PKCS8_encrypt_ex(-1, cipher, record->passphrase,
					     (int)record->passphrase_len, NULL,
					     KEY_SALT_SIZE,
					     CP_STORE_PBKDF2_ITERATIONS, info,
					     cp_store_libctx(), NULL);
	if (!encrypted) {
		cp_set_error(err, err_size,
			     "cannot encrypt the private key: %s",
			     cp_openssl_reason());
		goto out;
	}
	if (PEM_write_bio_PKCS8(out, encrypted))
		r = 0;

out:
	if (r < 0 && err_size && !err[0])
		cp_set_error(err, err_size, "cannot write the private key: %s",
			     cp_openssl_reason());
	X509_SIG_free(encrypted);
	EVP_CIPHER_free(cipher);
	PKCS8_PRIV_KEY_INFO_free(info);
	return r;
}

BIO *
cp_identity_file_format(const struct cp_identity_record *record, char *err,
			size_t err_size)
{
	BIO *out = BIO_new(BIO_s_secmem());

	if (err_size)
		err[0] = '\0';
	if (!out || write_headers(out, record) < 0 ||
	    !PEM_write_bio_X509(out, record->leaf))
		goto fail;
	for (int i = 0; i < sk_X509_num(record->chain); i++)
		if (!PEM_write_bio_X509(out, sk_X509_value(record->chain, i)))
			goto fail;
	if (record->key && write_key(out, record, err, err_size) < 0)
		goto fail;
	return out;

fail:
	if (err_size && !err[0])
		cp_set_error(err, err_size, "cannot format the identity: %s",
			     cp_openssl_reason());
	BIO_free(out);
	return NULL;
}

static int
hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Decodes a percent-encoded header value into a new string, or returns
 * NULL for an invalid escape or when out of memory. */
static char *
decode_value(const char *value, size_t len)
{
	char *out = malloc(len + 1);
	size_t n = 0;

	if (!out)
		return NULL;
	for (size_t i = 0; i < len; i++) {
		if (value[i] != '%') {
			out[n++] = value[i];
			continue;
		}
		int high = len - i >= 3 ? hex_value(value[i + 1]) : -1;
		int low = len - i >= 3 ? hex_value(value[i + 2]) : -1;

		/* "%00" would cut the string short. */
		if (high < 0 || low < 0 || (high == 0 && low == 0)) {
			free(out);
			return NULL;
		}
		out[n++] = (char)(high << 4 | low);
		i += 2;
	}
	out[n] = '\0';
	return out;
}

static int
set_header(struct cp_identity *identity, const char *name, size_t name_len,
	   const char *value, size_t value_len, char *err, size_t err_size)
{
	char **slot = NULL;

	if (name_len == 17 && memcmp(name, "certpick-identity", 17) == 0) {
		if (value_len != 1 || value[0] < '1' ||
		    value[0] - '0' > CP_STORE_FORMAT_VERSION) {
			cp_set_error(err, err_size,
				     "format version %.*s is not supported "
				     "(this certpick reads version %d)",
				     (int)(value_len < 16 ? value_len : 16),
				     value, CP_STORE_FORMAT_VERSION);
			return -1;
		}
		return 0;
	}
	if (name_len == 5 && memcmp(name, "label", 5) == 0)
		slot = &identity->label;
	else if (name_len == 6 && memcmp(name, "source", 6) == 0)
		slot = &identity->source;
	else
		return 0; /* later versions may add headers */

	free(*slot);
	*slot = decode_value(value, value_len);
	if (!*slot || !cp_utf8_printable(*slot, strlen(*slot))) {
		cp_set_error(err, err_size, "invalid %.*s header",
			     (int)name_len, name);
		return -1;
	}
	if (slot == &identity->label && strlen(*slot) > CP_LABEL_MAX) {
		cp_set_error(err, err_size,
			     "the label header is longer than %d bytes",
			     CP_LABEL_MAX);
		return -1;
	}
	return 0;
}

/* Reads the header lines before the first PEM block. Returns the offset of
 * that block, or -1 with a message in err. */
static ssize_t
parse_headers(struct cp_identity *identity, const char *data, size_t len,
	      char *err, size_t err_size)
{
	size_t pos = 0;

	while (pos < len) {
		const char *line = data + pos;
		const char *end = memchr(line, '\n', len - pos);
		size_t line_len = end ? (size_t)(end - line) : len - pos;
		const char *colon;

		if (line_len >= 11 && memcmp(line, "-----BEGIN ", 11) == 0)
			return (ssize_t)pos;
		pos += line_len + (end ? 1 : 0);
		if (line_len == 0 || line[0] == '#')
			continue;

		colon = memchr(line, ':', line_len);
		if (!colon || colon + 1 >= line + line_len || colon[1] != ' ') {
			cp_set_error(err, err_size,
				     "invalid header line (expected "
				     "\"name: value\")");
			return -1;
		}
		if (set_header(identity, line, (size_t)(colon - line),
			       colon + 2, line_len - (size_t)(colon - line) - 2,
			       err, err_size) < 0)
			return -1;
	}
	return (ssize_t)pos;
}

static int
add_certificate(struct cp_identity *identity, const unsigned char *der,
		long len, char *err, size_t err_size)
{
	const unsigned char *p = der;
	X509 *certificate = d2i_X509(NULL, &p, len);

	if (!certificate || p != der + len) {
		X509_free(certificate);
		cp_set_error(err, err_size, "invalid certificate: %s",
			     cp_openssl_reason());
		return -1;
	}
	if (!identity->leaf) {
		identity->leaf = certificate;
		return 0;
	}
	if (!sk_X509_push(identity->own_chain, certificate)) {
		X509_free(certificate);
		cp_set_error(err, err_size, "out of memory");
		return -1;
	}
	return 0;
}

/* Checks that unlocking the key would take certpickd seconds at most.
 * Import writes CP_STORE_PBKDF2_ITERATIONS, but a file made by hand can
 * set any count, and certpickd serves no one while it derives. A key that
 * requires more is left out with a warning, so that the matcher reports it
 * as unavailable. */
static bool
key_cost_acceptable(struct cp_identity *identity)
{
	const X509_ALGOR *algorithm = NULL;
	char why[256];

	X509_SIG_get0(identity->encrypted_key, &algorithm, NULL);
	if (cp_pbe_check_cost(algorithm, "the private key", why, sizeof(why)) ==
	    0)
		return true;
	log_warning("%s: %s; import the identity again", identity->path, why);
	return false;
}

static int
add_key(struct cp_identity *identity, bool encrypted, const unsigned char *der,
	long len, char *err, size_t err_size)
{
	const unsigned char *p = der;

	if (identity->plain_key || identity->encrypted_key) {
		cp_set_error(err, err_size, "more than one private key");
		return -1;
	}
	if (encrypted)
		identity->encrypted_key = d2i_X509_SIG(NULL, &p, len);
	else
		identity->plain_key = d2i_PKCS8_PRIV_KEY_INFO(NULL, &p, len);
	if (p == der + len && identity->encrypted_key &&
	    !key_cost_acceptable(identity)) {
		X509_SIG_free(identity->encrypted_key);
		identity->encrypted_key = NULL;
		return 0;
	}
	if (p == der + len && (identity->plain_key || identity->encrypted_key))
		return 0;

	/* An undecodable key leaves the certificate usable for display, and
	 * the matcher reports the key as unavailable. */
	log_warning("%s: the private key cannot be decoded: %s", identity->path,
		    cp_openssl_reason());
	X509_SIG_free(identity->encrypted_key);
	PKCS8_PRIV_KEY_INFO_free(identity->plain_key);
	identity->encrypted_key = NULL;
	identity->plain_key = NULL;
	return 0;
}

static int
add_block(struct cp_identity *identity, const char *name,
	  const unsigned char *der, long len, char *err, size_t err_size)
{
	if (strcmp(name, PEM_STRING_X509) == 0)
		return add_certificate(identity, der, len, err, err_size);
	if (strcmp(name, PEM_STRING_PKCS8INF) == 0)
		return add_key(identity, false, der, len, err, err_size);
	if (strcmp(name, PEM_STRING_PKCS8) == 0)
		return add_key(identity, true, der, len, err, err_size);
	log_debug("%s: ignoring a PEM block of type %.40s", identity->path,
		  name);
	return 0;
}

static int
parse_blocks(struct cp_identity *identity, const char *data, size_t len,
	     char *err, size_t err_size)
{
	BIO *in = BIO_new_mem_buf(data, (int)len);
	int r = 0;

	if (!in) {
		cp_set_error(err, err_size, "out of memory");
		return -1;
	}
	while (r == 0) {
		char *name = NULL, *header = NULL;
		unsigned char *der = NULL;
		long der_len = 0;
		unsigned long e;

		if (PEM_read_bio_ex(in, &name, &header, &der, &der_len,
				    PEM_FLAG_SECURE)) {
			r = add_block(identity, name, der, der_len, err,
				      err_size);
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
		cp_set_error(err, err_size, "invalid PEM: %s",
			     cp_openssl_reason());
		r = -1;
	}
	BIO_free(in);
	return r;
}

static const char *
base_name(const char *path)
{
	const char *slash = strrchr(path, '/');

	return slash ? slash + 1 : path;
}

/* Checks that the file is named after the leaf, so that one identity can
 * never be in the store twice. */
static int
check_file_name(struct cp_identity *identity, char *err, size_t err_size)
{
	const char *name = base_name(identity->path);

	if (cp_certificate_id(identity->leaf, identity->id) < 0) {
		cp_set_error(err, err_size, "cannot hash the certificate");
		return -1;
	}
	if (strncmp(name, identity->id, CP_IDENTITY_ID_SIZE - 1) != 0 ||
	    strcmp(name + CP_IDENTITY_ID_SIZE - 1, CP_STORE_FILE_SUFFIX) != 0) {
		cp_set_error(err, err_size,
			     "the file name does not match its certificate, "
			     "whose id is %s",
			     identity->id);
		return -1;
	}
	return 0;
}

struct cp_identity *
cp_identity_file_parse(const char *path, const char *data, size_t len,
		       char *err, size_t err_size)
{
	struct cp_identity *identity = calloc(1, sizeof(*identity));
	ssize_t offset;

	if (!identity || !(identity->path = strdup(path)) ||
	    !(identity->own_chain = sk_X509_new_null())) {
		cp_set_error(err, err_size, "out of memory");
		goto fail;
	}

	offset = parse_headers(identity, data, len, err, err_size);
	if (offset < 0)
		goto fail;
	if (parse_blocks(identity, data + offset, len - (size_t)offset, err,
			 err_size) < 0)
		goto fail;
	if (!identity->leaf) {
		cp_set_error(err, err_size, "no certificate");
		goto fail;
	}
	if (check_file_name(identity, err, err_size) < 0)
		goto fail;

	if (!identity->label)
		identity->label = strdup(identity->id);
	if (!identity->source)
		identity->source = strdup("");
	if (!identity->label || !identity->source) {
		cp_set_error(err, err_size, "out of memory");
		goto fail;
	}
	return identity;

fail:
	cp_identity_free(identity);
	return NULL;
}
