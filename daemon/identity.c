/* An identity of the store: its facts for the matcher, its private key
 * (decoded on first use, or unlocked with a passphrase) and signing. */
#include <stdlib.h>
#include <limits.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/pkcs12.h>
#include <openssl/rsa.h>
#include <openssl/x509v3.h>

#include "matcher.h"
#include "store-private.h"

const char *
cp_key_type_of(EVP_PKEY *key, int *curve_nid)
{
	char group[64];

	*curve_nid = NID_undef;
	if (EVP_PKEY_is_a(key, "RSA"))
		return "RSA";
	if (EVP_PKEY_is_a(key, "RSA-PSS"))
		return "RSA-PSS";
	if (EVP_PKEY_is_a(key, "ED25519"))
		return "ED25519";
	if (EVP_PKEY_is_a(key, "ED448"))
		return "ED448";
	if (!EVP_PKEY_is_a(key, "EC"))
		return NULL;

	/* A key with explicit curve parameters has no group name. TLS 1.3
	 * has no ECDSA scheme for it, so the matcher excludes it there. */
	if (EVP_PKEY_get_group_name(key, group, sizeof(group), NULL))
		*curve_nid = OBJ_txt2nid(group);
	else
		ERR_clear_error();
	return "EC";
}

static int
time_from_asn1(const ASN1_TIME *asn1, time_t *out)
{
	struct tm tm;

	if (!ASN1_TIME_to_tm(asn1, &tm))
		return -1;
	*out = timegm(&tm);
	return 0;
}

/* An extendedKeyUsage extension must allow clientAuth (or any purpose);
 * without the extension every purpose is allowed (RFC 5280 4.2.1.12). A
 * keyUsage extension must allow digitalSignature, since TLS client
 * authentication signs the handshake. */
static unsigned
usage_reasons(X509 *leaf)
{
	uint32_t flags = X509_get_extension_flags(leaf);
	unsigned reasons = 0;

	if ((flags & EXFLAG_XKUSAGE) && !(X509_get_extended_key_usage(leaf) &
					  (XKU_SSL_CLIENT | XKU_ANYEKU)))
		reasons |= CP_REASON_NO_CLIENT_AUTH_EKU;
	if ((flags & EXFLAG_KUSAGE) &&
	    !(X509_get_key_usage(leaf) & KU_DIGITAL_SIGNATURE))
		reasons |= CP_REASON_KEY_USAGE_LACKS_DIGITAL_SIGNATURE;
	return reasons;
}

int
cp_identity_precompute(struct cp_identity *identity, char *err, size_t err_size)
{
	EVP_PKEY *public_key = X509_get0_pubkey(identity->leaf);

	if (!public_key) {
		cp_set_error(err, err_size,
			     "cannot decode the certificate's public key: %s",
			     cp_openssl_reason());
		return -1;
	}
	identity->key_type = cp_key_type_of(public_key, &identity->curve_nid);
	if (!identity->key_type) {
		cp_set_error(err, err_size,
			     "%s keys cannot sign in TLS 1.2 or 1.3 as "
			     "certpick does (RSA, RSA-PSS, EC, Ed25519, Ed448)",
			     EVP_PKEY_get0_type_name(public_key));
		return -1;
	}
	identity->key_bits = EVP_PKEY_get_bits(public_key);

	if (time_from_asn1(X509_get0_notBefore(identity->leaf),
			   &identity->not_before) < 0 ||
	    time_from_asn1(X509_get0_notAfter(identity->leaf),
			   &identity->not_after) < 0) {
		cp_set_error(err, err_size, "invalid validity period");
		return -1;
	}

	identity->fixed_reasons = usage_reasons(identity->leaf);
	if (!cp_identity_key_available(identity))
		identity->fixed_reasons |= CP_REASON_KEY_UNAVAILABLE;
	return 0;
}

static bool
same_encrypted_key(X509_SIG *a, X509_SIG *b)
{
	unsigned char *der_a = NULL, *der_b = NULL;
	int len_a = i2d_X509_SIG(a, &der_a);
	int len_b = i2d_X509_SIG(b, &der_b);
	bool same = len_a > 0 && len_a == len_b &&
		    memcmp(der_a, der_b, (size_t)len_a) == 0;

	OPENSSL_free(der_a);
	OPENSSL_free(der_b);
	return same;
}

void
cp_identity_take_key(struct cp_identity *identity, struct cp_identity *old)
{
	if (!old->key || identity->key || !identity->encrypted_key ||
	    !old->encrypted_key)
		return;
	if (!same_encrypted_key(identity->encrypted_key, old->encrypted_key))
		return;
	identity->key = old->key;
	old->key = NULL;
}

void
cp_identity_free(struct cp_identity *identity)
{
	if (!identity)
		return;
	free(identity->label);
	free(identity->source);
	free(identity->path);
	X509_free(identity->leaf);
	sk_X509_pop_free(identity->own_chain, X509_free);
	sk_X509_pop_free(identity->chain, X509_free);
	PKCS8_PRIV_KEY_INFO_free(identity->plain_key);
	X509_SIG_free(identity->encrypted_key);
	EVP_PKEY_free(identity->key);
	json_decref(identity->chain_json);
	free(identity);
}

const char *
cp_identity_id(const struct cp_identity *identity)
{
	return identity->id;
}

const char *
cp_identity_label(const struct cp_identity *identity)
{
	return identity->label;
}

enum cp_source_kind
cp_identity_source_kind(const struct cp_identity *identity)
{
	return CP_SOURCE_FILE;
}

const char *
cp_identity_source(const struct cp_identity *identity)
{
	return identity->source;
}

X509 *
cp_identity_leaf(const struct cp_identity *identity)
{
	return identity->leaf;
}

STACK_OF(X509) *
cp_identity_chain(const struct cp_identity *identity)
{
	return identity->chain ? identity->chain : identity->own_chain;
}

const char *
cp_identity_key_type(const struct cp_identity *identity)
{
	return identity->key_type;
}

int
cp_identity_key_bits(const struct cp_identity *identity)
{
	return identity->key_bits;
}

int
cp_identity_curve(const struct cp_identity *identity)
{
	return identity->curve_nid;
}

bool
cp_identity_locked(const struct cp_identity *identity)
{
	return identity->encrypted_key && !identity->key;
}

bool
cp_identity_key_available(const struct cp_identity *identity)
{
	return identity->key || identity->plain_key || identity->encrypted_key;
}

/* Decodes a PKCS #8 key and checks that it belongs to the leaf. */
static int
set_key(struct cp_identity *identity, const PKCS8_PRIV_KEY_INFO *info,
	char *err, size_t err_size)
{
	EVP_PKEY *key = EVP_PKCS82PKEY_ex(info, cp_store_libctx(), NULL);

	if (!key) {
		cp_set_error(err, err_size,
			     "cannot decode the private key in %s: %s",
			     identity->path, cp_openssl_reason());
		return -1;
	}
	if (X509_check_private_key(identity->leaf, key) != 1) {
		ERR_clear_error();
		EVP_PKEY_free(key);
		cp_set_error(err, err_size,
			     "the private key in %s does not belong to its "
			     "certificate; import the identity again",
			     identity->path);
		return -1;
	}
	identity->key = key;
	return 0;
}

int
cp_identity_unlock(struct cp_identity *identity, const char *passphrase,
		   int *tries_left, char *err, size_t err_size)
{
	PKCS8_PRIV_KEY_INFO *info;
	int r;

	if (tries_left)
		*tries_left = -1;
	if (identity->key)
		return 0;
	if (identity->plain_key)
		return set_key(identity, identity->plain_key, err, err_size);
	if (!identity->encrypted_key) {
		cp_set_error(err, err_size, "%s holds no usable private key",
			     identity->path);
		return -1;
	}

	/* A wrong passphrase fails the padding check or the decoding of the
	 * decrypted PrivateKeyInfo; both mean "try again". */
	info = PKCS8_decrypt_ex(identity->encrypted_key, passphrase,
				(int)strlen(passphrase), cp_store_libctx(),
				NULL);
	if (!info) {
		ERR_clear_error();
		return 1;
	}
	r = set_key(identity, info, err, err_size);
	PKCS8_PRIV_KEY_INFO_free(info);
	return r;
}

static int
ensure_key(struct cp_identity *identity, char *err, size_t err_size)
{
	if (identity->key)
		return 0;
	if (identity->plain_key)
		return set_key(identity, identity->plain_key, err, err_size);
	if (identity->encrypted_key)
		cp_set_error(err, err_size,
			     "the private key of %s is locked; unlock it with "
			     "its passphrase first",
			     identity->id);
	else
		cp_set_error(err, err_size, "%s holds no usable private key",
			     identity->path);
	return -1;
}

/* TLS fixes the RSA-PSS parameters: MGF1 with the signature's digest, and
 * a salt as long as the digest (RFC 8446 section 4.2.3). */
static int
set_padding(EVP_PKEY_CTX *pctx, const struct cp_sigalg *alg, EVP_MD *md)
{
	switch (alg->family) {
	case CP_SIG_RSA_PKCS1:
		return EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING);
	case CP_SIG_RSA_PSS_RSAE:
	case CP_SIG_RSA_PSS_PSS:
		if (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) <=
			    0 ||
		    EVP_PKEY_CTX_set_rsa_pss_saltlen(
			    pctx, RSA_PSS_SALTLEN_DIGEST) <= 0)
			return -1;
		return EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, md);
	case CP_SIG_ECDSA:
	case CP_SIG_ED25519:
	case CP_SIG_ED448:
		return 1;
	}
	return -1;
}

static int
sign_message(EVP_PKEY *key, const struct cp_sigalg *alg, EVP_MD *md,
	     const uint8_t *input, size_t input_len, uint8_t **signature,
	     size_t *signature_len)
{
	EVP_MD_CTX *mdctx = EVP_MD_CTX_new();
	EVP_PKEY_CTX *pctx = NULL;
	size_t len = 0;
	uint8_t *buffer = NULL;
	int r = -1;

	if (!mdctx ||
	    EVP_DigestSignInit_ex(mdctx, &pctx,
				  md ? EVP_MD_get0_name(md) : NULL,
				  cp_store_libctx(), NULL, key, NULL) <= 0 ||
	    set_padding(pctx, alg, md) <= 0 ||
	    EVP_DigestSign(mdctx, NULL, &len, input, input_len) <= 0 ||
	    !(buffer = malloc(len)) ||
	    EVP_DigestSign(mdctx, buffer, &len, input, input_len) <= 0)
		goto out;
	*signature = buffer;
	*signature_len = len;
	buffer = NULL;
	r = 0;
out:
	free(buffer);
	EVP_MD_CTX_free(mdctx);
	return r;
}

static int
sign_digest(EVP_PKEY *key, const struct cp_sigalg *alg, EVP_MD *md,
	    const uint8_t *digest, size_t digest_len, uint8_t **signature,
	    size_t *signature_len)
{
	EVP_PKEY_CTX *pctx =
		EVP_PKEY_CTX_new_from_pkey(cp_store_libctx(), key, NULL);
	size_t len = 0;
	uint8_t *buffer = NULL;
	int r = -1;

	if (!pctx || EVP_PKEY_sign_init(pctx) <= 0 ||
	    EVP_PKEY_CTX_set_signature_md(pctx, md) <= 0 ||
	    set_padding(pctx, alg, md) <= 0 ||
	    EVP_PKEY_sign(pctx, NULL, &len, digest, digest_len) <= 0 ||
	    !(buffer = malloc(len)) ||
	    EVP_PKEY_sign(pctx, buffer, &len, digest, digest_len) <= 0)
		goto out;
	*signature = buffer;
	*signature_len = len;
	buffer = NULL;
	r = 0;
out:
	free(buffer);
	EVP_PKEY_CTX_free(pctx);
	return r;
}

/* Checks the input against what the scheme expects, and fetches its
 * digest. */
static int
prepare_digest(const struct cp_sigalg *alg, size_t input_len, bool is_digest,
	       EVP_MD **md, char *err, size_t err_size)
{
	*md = NULL;
	if (alg->digest_nid == NID_undef) {
		if (!is_digest)
			return 0;
		cp_set_error(err, err_size,
			     "%s signs the whole message; pass the data, not "
			     "a digest",
			     alg->name);
		return -1;
	}

	*md = EVP_MD_fetch(cp_store_libctx(), OBJ_nid2sn(alg->digest_nid),
			   NULL);
	if (!*md) {
		cp_set_error(err, err_size, "digest %s is not available: %s",
			     OBJ_nid2sn(alg->digest_nid), cp_openssl_reason());
		return -1;
	}
	if (is_digest && input_len != (size_t)EVP_MD_get_size(*md)) {
		cp_set_error(err, err_size,
			     "a %s digest is %d bytes, not %zu (for %s)",
			     EVP_MD_get0_name(*md), EVP_MD_get_size(*md),
			     input_len, alg->name);
		EVP_MD_free(*md);
		*md = NULL;
		return -1;
	}
	return 0;
}

int
cp_identity_sign(struct cp_identity *identity, const struct cp_sigalg *alg,
		 const uint8_t *input, size_t input_len, bool is_digest,
		 uint8_t **signature, size_t *signature_len, char *err,
		 size_t err_size)
{
	EVP_MD *md = NULL;
	int r;

	/* ECDSA schemes bind a curve only in TLS 1.3, and the hash alone
	 * counts for a signature, hence tls13 false. */
	if (!cp_sigalg_fits_key(alg, identity->key_type, identity->curve_nid,
				false)) {
		cp_set_error(err, err_size, "%s cannot sign with a %s key",
			     alg->name, identity->key_type);
		return -1;
	}
	if (ensure_key(identity, err, err_size) < 0)
		return -1;
	if (prepare_digest(alg, input_len, is_digest, &md, err, err_size) < 0)
		return -1;

	if (is_digest)
		r = sign_digest(identity->key, alg, md, input, input_len,
				signature, signature_len);
	else
		r = sign_message(identity->key, alg, md, input, input_len,
				 signature, signature_len);
	if (r < 0)
		cp_set_error(err, err_size, "signing with %s failed: %s",
			     alg->name, cp_openssl_reason());
	EVP_MD_free(md);
	return r;
}
