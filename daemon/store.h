/* The identity store: the person's identities (certificate, chain and
 * private key), loaded from files in a private directory. certpickd, the
 * certpick command and the tests share it.
 *
 * An identity comes from a source. The store's files are the first kind of
 * source; a PKCS #11 token is meant to be the second, which is why signing
 * and unlocking go through the identity rather than through its key. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "sigalgs.h"

/* Lowercase hex SHA-256 of the leaf certificate's DER, and its NUL. */
#define CP_IDENTITY_ID_SIZE 65

/* The maximum length of an identity's label, in bytes of UTF-8. */
#define CP_LABEL_MAX 256

struct cp_store;
struct cp_identity;

enum cp_source_kind {
	CP_SOURCE_FILE,
	CP_SOURCE_PKCS11,
};

/* Returns the store directory: $CERTPICK_STORE, else
 * $XDG_DATA_HOME/certpick/identities, else
 * ~/.local/share/certpick/identities. The string is static or from the
 * environment; do not free it. NULL when no home directory is known. */
const char *cp_store_default_dir(void);

/* Opens the store in dir, creating it with mode 0700 when missing, and
 * loads every identity. Rejects a directory that another user owns or that
 * others can write. Returns 0, or -1 with a message in err. A file that
 * cannot be loaded is skipped with a warning, not an error. */
int cp_store_open(const char *dir, struct cp_store **out, char *err,
		  size_t err_size);

void cp_store_free(struct cp_store *store);

/* Reloads the store when its directory changed since the last load.
 * Returns 1 when it reloaded, 0 when nothing changed, -1 with a message in
 * err. Identity pointers from before a reload are invalid after it. */
int cp_store_refresh(struct cp_store *store, char *err, size_t err_size);

size_t cp_store_count(const struct cp_store *store);

/* The index-th identity, in a stable order. */
struct cp_identity *cp_store_get(const struct cp_store *store, size_t index);

/* Returns the identity with this id, or NULL. */
struct cp_identity *cp_store_find(const struct cp_store *store, const char *id);

/* Asks for a password at import. Writes a NUL-terminated password into
 * buffer and returns its length, or returns -1 when none can be had. */
typedef int (*cp_password_cb)(char *buffer, size_t size, const char *prompt,
			      void *arg);

struct cp_import_options {
	const char *key_file; /* NULL: the key is in the imported file */
	const char *label;    /* NULL: derived from the certificate */
	cp_password_cb ask_password;
	void *ask_password_arg;
};

/* Imports an identity from a PEM bundle, a certificate with a separate key
 * file, or a PKCS #12 file. Writes its id into id. Importing an identity
 * that is already in the store succeeds with *already_present set. Returns
 * 0, or -1 with a message naming the file in err. It refreshes the store
 * as cp_store_refresh does, so identity pointers from before the call may
 * be invalid after it. */
int cp_store_import(struct cp_store *store, const char *file,
		    const struct cp_import_options *options,
		    char id[CP_IDENTITY_ID_SIZE], bool *already_present,
		    char *err, size_t err_size);

/* Removes an identity's file and reloads the store, which invalidates
 * identity pointers from before the call. Returns 0, or -1 with a message
 * in err. */
int cp_store_remove(struct cp_store *store, const char *id, char *err,
		    size_t err_size);

const char *cp_identity_id(const struct cp_identity *identity);
const char *cp_identity_label(const struct cp_identity *identity);
enum cp_source_kind cp_identity_source_kind(const struct cp_identity *identity);

/* Where the identity was imported from (a path), or a token URI. */
const char *cp_identity_source(const struct cp_identity *identity);

/* The leaf certificate, owned by the identity. */
X509 *cp_identity_leaf(const struct cp_identity *identity);

/* The certificates sent after the leaf, in chain order: the identity's own
 * intermediates, completed with intermediates from other identities in the
 * store. Owned by the identity. */
STACK_OF(X509) *cp_identity_chain(const struct cp_identity *identity);

/* "RSA", "RSA-PSS", "EC", "ED25519" or "ED448"; bits of the public key;
 * the curve NID for EC keys, NID_undef otherwise. */
const char *cp_identity_key_type(const struct cp_identity *identity);
int cp_identity_key_bits(const struct cp_identity *identity);
int cp_identity_curve(const struct cp_identity *identity);

/* Returns true when the private key needs a passphrase (or PIN) first. */
bool cp_identity_locked(const struct cp_identity *identity);

/* Returns true when the private key can be used at all: its file is there
 * and readable, or its token is present. */
bool cp_identity_key_available(const struct cp_identity *identity);

/* Unlocks the private key with a passphrase. Returns 0, 1 when the
 * passphrase is wrong, or -1 on another failure with a message in err. The
 * caller wipes the passphrase. *tries_left is set when the source counts
 * tries (a token), and to -1 otherwise. */
int cp_identity_unlock(struct cp_identity *identity, const char *passphrase,
		       int *tries_left, char *err, size_t err_size);

/* Signs with the identity's private key, which must be unlocked. input is
 * the message, or its digest when is_digest is set (not for EdDSA). The
 * signature is a new buffer in *signature. Returns 0, or -1 with a message
 * in err. */
int cp_identity_sign(struct cp_identity *identity, const struct cp_sigalg *alg,
		     const uint8_t *input, size_t input_len, bool is_digest,
		     uint8_t **signature, size_t *signature_len, char *err,
		     size_t err_size);

/* The leaf and the chain as base64 DER strings, leaf first, as Select
 * returns them. The array is built on first use and kept with the
 * identity, so it is borrowed: json_incref it to keep it. Returns NULL
 * when out of memory. */
json_t *cp_identity_chain_json(struct cp_identity *identity);

/* Flags for cp_identity_to_json. */
enum {
	/* Every member of org.certpick.Agent's Identity type. */
	CP_JSON_IDENTITY = 1 << 0,
	/* The members of org.certpick.Picker's Candidate type that describe
	 * the certificate; the caller adds eligible and reasons. */
	CP_JSON_CANDIDATE = 1 << 1,
};

/* Describes the identity as a new JSON object. */
json_t *cp_identity_to_json(const struct cp_identity *identity, unsigned flags);
