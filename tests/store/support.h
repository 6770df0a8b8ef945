/* Helpers for the identity store tests and the matcher benchmark: paths
 * into the test PKI, temporary stores, and certificates made on the spot
 * for cases the PKI does not cover. */
#pragma once

#include <stdbool.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "store.h"

/* Returns $CERTPICK_TEST_PKI/relative in a static buffer that the next
 * call overwrites. Aborts when the variable is not set. */
const char *pki_path(const char *relative);

/* Creates a new empty directory with mode 0700 under $TMPDIR or /tmp and
 * returns its path (free it). */
char *make_temp_dir(const char *prefix);

/* Removes a directory tree made by make_temp_dir. */
void remove_tree(const char *path);

/* Returns the number of directory entries other than "." and "..". */
int count_entries(const char *dir);

/* Reads a whole file into a new NUL-terminated buffer; NULL on failure. */
char *read_text(const char *path, size_t *len);

/* A cp_password_cb that gives the password in arg (a struct
 * test_password) at most max_calls times. */
struct test_password {
	const char *password;
	int max_calls;
	int calls;
};
int test_password_cb(char *buffer, size_t size, const char *prompt, void *arg);

/* Imports pki_path(file), with pki_path(key) when key is not NULL and the
 * password when it is not NULL. Returns what cp_store_import returns and
 * leaves its message in err. */
int import_pki(struct cp_store *store, const char *file, const char *key,
	       const char *password, char id[CP_IDENTITY_ID_SIZE], char *err,
	       size_t err_size);

/* Loads the certificate or key at pki_path(relative); aborts on failure. */
X509 *load_pki_certificate(const char *relative);
EVP_PKEY *load_pki_key(const char *relative);

/* What mint_certificate makes. */
struct mint {
	const char *common_name;
	X509 *issuer;	      /* NULL: self-signed */
	EVP_PKEY *issuer_key; /* signs; the key itself when self-signed */
	EVP_PKEY *key;	      /* the subject's public key */
	time_t not_before;
	time_t not_after;
	bool ca;
};

/* Makes a certificate with keyUsage and, for leaves, clientAuth. */
X509 *mint_certificate(const struct mint *mint);

/* Writes an identity file into dir in the documented store format, the
 * way a person could by hand: headers, leaf, chain, and the key in clear
 * as PKCS #8 when key is not NULL. Returns 0 or -1. */
int write_identity_file(const char *dir, const char *label, X509 *leaf,
			STACK_OF(X509) *chain, EVP_PKEY *key);

/* Writes the path of the store file for leaf in dir into path. Returns 0
 * or -1. */
int identity_file_path(const char *dir, X509 *leaf, char *path, size_t size);

/* Makes an encrypted PKCS #8 key whose PBES2 sets iterations of PBKDF2,
 * without deriving a key. The ciphertext is random, so it contains no key
 * at all. Returns NULL when out of memory. */
X509_SIG *make_costly_encrypted_key(int iterations);

/* Returns the identity whose label is label, or NULL. */
struct cp_identity *find_by_label(const struct cp_store *store,
				  const char *label);
