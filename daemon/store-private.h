/* Internals of the identity store, shared by its source files (store.c,
 * store-file.c, identity.c, identity-json.c, import.c, matcher.c) and by
 * the certpick subcommands that work on the store (cmd-store.c). */
#pragma once

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "store.h"
#include "text.h"

/* The maximum size of an identity file or an import input. Real chains
 * with keys are a few kilobytes, and the bound limits the memory that a
 * stray file can take. */
#define CP_STORE_FILE_MAX (1024 * 1024)

/* The maximum number of certificates above the leaf that import keeps and that
 * chain completion builds. Real chains have one to three intermediates, and the
 * bound stops loops among cross-signed CAs and crafted chains of
 * thousands. */
#define CP_CHAIN_MAX 10

/* Identity files are named "<id>.pem". */
#define CP_STORE_FILE_SUFFIX ".pem"

/* The format version written in an identity file's first header line. */
#define CP_STORE_FORMAT_VERSION 1

/* PBKDF2-HMAC-SHA256 iterations for keys encrypted at rest. Each guess of
 * a stolen file's passphrase then costs about 0.1 s of CPU time (0.13 s
 * measured on one AMD EPYC core), and so does each unlock. Only the fuzz
 * targets (tests/fuzz) define fewer, to keep each input fast. */
#ifndef CP_STORE_PBKDF2_ITERATIONS
#define CP_STORE_PBKDF2_ITERATIONS 600000
#endif

struct cp_identity {
	char id[CP_IDENTITY_ID_SIZE];
	char *label;
	char *source;
	char *path; /* the identity file */

	X509 *leaf;
	STACK_OF(X509) *own_chain; /* from the file, leaf's issuer first */
	STACK_OF(X509) *chain;	   /* own_chain completed from the store */

	/* At most one of plain_key and encrypted_key is set. Both are NULL
	 * when the file contains no usable key. key is decoded on first use,
	 * or by cp_identity_unlock. */
	PKCS8_PRIV_KEY_INFO *plain_key;
	X509_SIG *encrypted_key;
	EVP_PKEY *key;

	/* Facts about the leaf that the matcher needs, taken at load. */
	const char *key_type; /* static string, as cp_identity_key_type */
	int key_bits;
	int curve_nid;
	time_t not_before;
	time_t not_after;
	unsigned fixed_reasons; /* reasons that do not depend on a request */
	size_t key_class;	/* index into cp_store.key_classes */
	size_t index;		/* position in store order */

	/* The chain as Select sends it, built on first use. */
	json_t *chain_json;
};

/* One distinct issuer name among the store's chains, with the identities
 * whose chain contains a certificate that it issued. */
struct cp_issuer_entry {
	const X509_NAME *name; /* owned by a certificate in the store */
	size_t first;	       /* into cp_store.issuer_members */
	size_t count;
};

/* The distinct (key type, curve) pairs in the store, so that a request's
 * signature schemes are checked once per pair, not once per identity. */
struct cp_key_class {
	const char *key_type;
	int curve_nid;
};

struct cp_store {
	char *dir;

	struct cp_identity **identities; /* store order */
	size_t count;

	/* Identity indexes, best first: latest notAfter, newest notBefore,
	 * shortest chain, then store order. */
	size_t *best_first;

	/* Issuer index, sorted by X509_NAME_cmp. */
	struct cp_issuer_entry *issuers;
	size_t n_issuers;
	size_t *issuer_members;

	struct cp_key_class *key_classes;
	size_t n_key_classes;

	/* The directory's state at the last load. */
	dev_t dir_dev;
	ino_t dir_ino;
	struct timespec dir_mtime;
	uint64_t listing_hash;
	bool mtime_ambiguous; /* a change within the same tick may hide */
};

/* The maximum number of iterations of PBKDF2 or of the PKCS #12 key derivation
 * that certpick runs for one key or MAC. 10,000,000 took 2.3 s of one AMD EPYC
 * core with HMAC-SHA256 and 4.3 s with HMAC-SHA1 (OpenSSL 3.0.22), while
 * exports use a few thousand and the store 600,000. A file that requires
 * more is rejected before any work, because certpickd would stall for
 * every client and a crafted import could run for hours. */
#define CP_KDF_ITERATIONS_MAX 10000000

/* The maximum scrypt work, N * r * p, that certpick runs: 2^22, which took
 * 1.2 s (N = 16384, r = 8, p = 32) where "openssl pkcs8 -scrypt" writes
 * 2^17. */
#define CP_SCRYPT_WORK_MAX (1 << 22)

/* Checks that deriving a key with iterations (NULL: one) stays within
 * CP_KDF_ITERATIONS_MAX. Returns 0, or -1 with a message in err that
 * starts with what, such as "the MAC of FILE". */
int cp_kdf_iterations_check(const ASN1_INTEGER *iterations, const char *what,
			    char *err, size_t err_size);

/* Checks the cost of a password-based encryption algorithm (PBES2 with
 * PBKDF2 or scrypt, PKCS #5 v1.5, PKCS #12) before it runs. Parameters
 * that do not decode pass, since OpenSSL then fails without deriving a
 * key. Returns 0, or -1 with a message in err that starts with what. */
int cp_pbe_check_cost(const X509_ALGOR *algorithm, const char *what, char *err,
		      size_t err_size);

/* Writes a formatted message into err (when err_size is not 0). */
void cp_set_error(char *err, size_t err_size, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Returns the reason string of the last OpenSSL error, and empties
 * OpenSSL's error queue. The string is static. */
const char *cp_openssl_reason(void);

/* Returns the library context that decodes keys and PKCS #12 files: the
 * "default" provider and, when it can be loaded, the "legacy" one (for
 * RC2-40 and 3DES in old PKCS #12 exports, DES in old PEM keys). */
OSSL_LIB_CTX *cp_store_libctx(void);

/* Returns true when OpenSSL's legacy provider is loaded in
 * cp_store_libctx. */
bool cp_store_legacy_loaded(void);

/* Writes the lowercase hex SHA-256 of the certificate's DER into id.
 * Returns 0, or -1. */
int cp_certificate_id(X509 *certificate, char id[CP_IDENTITY_ID_SIZE]);

/* Returns true when id is 64 lowercase hex digits. */
bool cp_id_valid(const char *id);

/* store-file.c: the identity file format. */

/* What an identity file holds. The strings and objects are borrowed. */
struct cp_identity_record {
	const char *label;
	const char *source;
	X509 *leaf;
	STACK_OF(X509) *chain;
	EVP_PKEY *key; /* NULL: no key */
	/* Encrypts the key at rest with this passphrase when not NULL. */
	const char *passphrase;
	size_t passphrase_len;
};

/* Formats an identity file into a new memory BIO (secure memory, since a
 * key may be in clear). Returns NULL with a message in err. */
BIO *cp_identity_file_format(const struct cp_identity_record *record, char *err,
			     size_t err_size);

/* Parses an identity file read from path. Returns a new identity without
 * the store-dependent parts (chain completion, key class, index), or NULL
 * with a message in err. */
struct cp_identity *cp_identity_file_parse(const char *path, const char *data,
					   size_t len, char *err,
					   size_t err_size);

/* identity.c */

/* Takes the facts the matcher needs from the leaf. Returns 0, or -1 with a
 * message in err for a key type that certpick cannot use. */
int cp_identity_precompute(struct cp_identity *identity, char *err,
			   size_t err_size);

/* Moves an unlocked key from old to identity when both are the same
 * identity file content, so a reload keeps keys unlocked. */
void cp_identity_take_key(struct cp_identity *identity,
			  struct cp_identity *old);

void cp_identity_free(struct cp_identity *identity);

/* Returns the key type name for a public key ("RSA", "EC", ...) or NULL
 * when certpick cannot sign with such a key. Sets *curve_nid for EC. */
const char *cp_key_type_of(EVP_PKEY *key, int *curve_nid);

/* identity-json.c */

/* Formats a name as RFC 4514 text with UTF-8 left unescaped, into a new
 * string. Returns NULL when out of memory. */
char *cp_name_to_string(const X509_NAME *name);

/* Returns the name's last commonName as UTF-8 in a new string, "" when it
 * has none or it does not convert; NULL when out of memory. */
char *cp_name_common_name(const X509_NAME *name);

/* Formats an ASN.1 time as RFC 3339 UTC ("2026-01-31T12:00:00Z") into
 * buffer. Returns buffer, or "" when the time is invalid. */
const char *cp_time_to_rfc3339(const ASN1_TIME *time, char *buffer,
			       size_t size);

/* store.c */

/* Writes data as the store file "name" atomically: a temporary file in the
 * store directory, fsync, rename, fsync of the directory. On failure no
 * file is left behind. Returns 0, or -1 with a message in err. */
int cp_store_write_file(struct cp_store *store, const char *name,
			const char *data, size_t len, char *err,
			size_t err_size);

/* Reloads the store whatever changed. Returns 0, or -1 with a message in
 * err, keeping the previous content. */
int cp_store_reload(struct cp_store *store, char *err, size_t err_size);
