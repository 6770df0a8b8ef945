/* The certpick OpenSSL provider: RSA, EC, Ed25519 and Ed448 keys whose
 * private operation is certpickd's Sign. A key contains the certificate's
 * public key (from the default provider), the identity id and the
 * connection to certpickd, and nothing secret. */
#include "certpick-internal.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_dispatch.h>
#include <openssl/crypto.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/params.h>
#include <openssl/provider.h>
#include <openssl/rsa.h>

#include "agent.h"
#include "base64.h"
#include "sigalgs.h"

#define CP_PROVIDER_NAME "certpick"

/* The parameter that carries a struct cp_key_spec into the keymgmt's
 * import, as a pointer. */
#define CP_PARAM_KEY_SPEC "certpick-key-spec"

enum cp_key_kind {
	CP_KEY_RSA,
	CP_KEY_EC,
	CP_KEY_ED25519,
	CP_KEY_ED448,
};

/* The identity that cp_remote_key_new passes to the keymgmt's import. */
struct cp_key_spec {
	struct cp_agent_link *link;
	const char *id;
	EVP_PKEY *pub;
};

/* The keymgmt's key object. A key imported from standard public
 * parameters (when libcrypto compares it with the certificate's key) has
 * no link and cannot sign. */
struct cp_keydata {
	enum cp_key_kind kind;
	EVP_PKEY *pub;
	struct cp_agent_link *link;
	char *id;
};

/* The signature operation's context. */
struct cp_sigctx {
	enum cp_key_kind kind;
	struct cp_keydata *key;
	EVP_MD *md; /* NULL for EdDSA */
	int padding;
};

static const char *const key_type_names[] = {
	[CP_KEY_RSA] = "RSA",
	[CP_KEY_EC] = "EC",
	[CP_KEY_ED25519] = "ED25519",
	[CP_KEY_ED448] = "ED448",
};

/* Signature names of our own, so that a fetch for our keys never lands on
 * the default provider's signatures, which need the private key. */
static const char *const signature_names[] = {
	[CP_KEY_RSA] = "CERTPICK-RSA",
	[CP_KEY_EC] = "CERTPICK-EC",
	[CP_KEY_ED25519] = "CERTPICK-ED25519",
	[CP_KEY_ED448] = "CERTPICK-ED448",
};

/* Key management. */

static void *
keydata_new(enum cp_key_kind kind)
{
	struct cp_keydata *key = calloc(1, sizeof(*key));

	if (key)
		key->kind = kind;
	return key;
}

static void *
rsa_new(void *provctx)
{
	return keydata_new(CP_KEY_RSA);
}

static void *
ec_new(void *provctx)
{
	return keydata_new(CP_KEY_EC);
}

static void *
ed25519_new(void *provctx)
{
	return keydata_new(CP_KEY_ED25519);
}

static void *
ed448_new(void *provctx)
{
	return keydata_new(CP_KEY_ED448);
}

static void
keydata_free(void *keydata)
{
	struct cp_keydata *key = keydata;

	if (!key)
		return;
	EVP_PKEY_free(key->pub);
	cp_agent_link_unref(key->link);
	free(key->id);
	free(key);
}

static int
keydata_has(const void *keydata, int selection)
{
	const struct cp_keydata *key = keydata;

	if (!key || !key->pub)
		return 0;
	if ((selection & OSSL_KEYMGMT_SELECT_PRIVATE_KEY) && !key->link)
		return 0;
	return 1;
}

/* Takes a key from a struct cp_key_spec. */
static int
import_spec(struct cp_keydata *key, const OSSL_PARAM *param)
{
	const struct cp_key_spec *spec;
	const void *ptr;
	size_t len;

	if (!OSSL_PARAM_get_octet_ptr(param, &ptr, &len) ||
	    len != sizeof(*spec))
		return 0;
	spec = ptr;
	if (!spec->link || !spec->id || !spec->pub ||
	    !EVP_PKEY_is_a(spec->pub, key_type_names[key->kind]))
		return 0;
	key->id = strdup(spec->id);
	if (!key->id || !EVP_PKEY_up_ref(spec->pub))
		return 0;
	key->pub = spec->pub;
	key->link = cp_agent_link_ref(spec->link);
	return 1;
}

/* Takes a public key from standard parameters, through the default
 * provider. libcrypto does this when it compares a certificate's key with
 * ours. */
static int
import_public(struct cp_keydata *key, int selection, const OSSL_PARAM params[])
{
	EVP_PKEY_CTX *ctx;
	EVP_PKEY *pub = NULL;
	int ok;

	if (!(selection & OSSL_KEYMGMT_SELECT_PUBLIC_KEY) ||
	    (selection & OSSL_KEYMGMT_SELECT_PRIVATE_KEY))
		return 0;
	ctx = EVP_PKEY_CTX_new_from_name(NULL, key_type_names[key->kind],
					 "provider=default");
	if (!ctx)
		return 0;
	ok = EVP_PKEY_fromdata_init(ctx) > 0 &&
	     EVP_PKEY_fromdata(ctx, &pub, EVP_PKEY_PUBLIC_KEY,
			       (OSSL_PARAM *)params) > 0;
	EVP_PKEY_CTX_free(ctx);
	if (!ok)
		return 0;
	key->pub = pub;
	return 1;
}

static int
keydata_import(void *keydata, int selection, const OSSL_PARAM params[])
{
	struct cp_keydata *key = keydata;
	const OSSL_PARAM *spec;

	if (!key || key->pub)
		return 0;
	spec = OSSL_PARAM_locate_const(params, CP_PARAM_KEY_SPEC);
	if (spec)
		return import_spec(key, spec);
	return import_public(key, selection, params);
}

static const OSSL_PARAM rsa_public_types[] = {
	OSSL_PARAM_octet_ptr(CP_PARAM_KEY_SPEC, NULL, 0),
	OSSL_PARAM_BN(OSSL_PKEY_PARAM_RSA_N, NULL, 0),
	OSSL_PARAM_BN(OSSL_PKEY_PARAM_RSA_E, NULL, 0),
	OSSL_PARAM_END,
};

static const OSSL_PARAM ec_public_types[] = {
	OSSL_PARAM_octet_ptr(CP_PARAM_KEY_SPEC, NULL, 0),
	OSSL_PARAM_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, NULL, 0),
	OSSL_PARAM_octet_string(OSSL_PKEY_PARAM_PUB_KEY, NULL, 0),
	OSSL_PARAM_utf8_string(OSSL_PKEY_PARAM_EC_POINT_CONVERSION_FORMAT, NULL,
			       0),
	OSSL_PARAM_utf8_string(OSSL_PKEY_PARAM_EC_ENCODING, NULL, 0),
	OSSL_PARAM_END,
};

static const OSSL_PARAM ecx_public_types[] = {
	OSSL_PARAM_octet_ptr(CP_PARAM_KEY_SPEC, NULL, 0),
	OSSL_PARAM_octet_string(OSSL_PKEY_PARAM_PUB_KEY, NULL, 0),
	OSSL_PARAM_END,
};

static const OSSL_PARAM *
rsa_import_types(int selection)
{
	return rsa_public_types;
}

static const OSSL_PARAM *
ec_import_types(int selection)
{
	return ec_public_types;
}

static const OSSL_PARAM *
ecx_import_types(int selection)
{
	return ecx_public_types;
}

/* Exports the public part only; the private key is not here to export. */
static int
keydata_export(void *keydata, int selection, OSSL_CALLBACK *cb, void *cbarg)
{
	struct cp_keydata *key = keydata;
	OSSL_PARAM *params = NULL;
	int ok;

	if (!key || !key->pub || (selection & OSSL_KEYMGMT_SELECT_PRIVATE_KEY))
		return 0;
	if (EVP_PKEY_todata(key->pub, EVP_PKEY_PUBLIC_KEY, &params) <= 0)
		return 0;
	ok = cb(params, cbarg);
	OSSL_PARAM_free(params);
	return ok;
}

static int
keydata_match(const void *keydata1, const void *keydata2, int selection)
{
	const struct cp_keydata *key1 = keydata1, *key2 = keydata2;

	if (!key1 || !key2 || !key1->pub || !key2->pub)
		return 0;
	if (selection & OSSL_KEYMGMT_SELECT_KEYPAIR)
		return EVP_PKEY_eq(key1->pub, key2->pub) == 1;
	if (selection & OSSL_KEYMGMT_SELECT_ALL_PARAMETERS)
		return EVP_PKEY_parameters_eq(key1->pub, key2->pub) == 1;
	return 1;
}

/* Size, security bits, curve and default digest are those of the public
 * key, so the default provider returns them. */
static int
keydata_get_params(void *keydata, OSSL_PARAM params[])
{
	struct cp_keydata *key = keydata;

	if (!key || !key->pub)
		return 0;
	return EVP_PKEY_get_params(key->pub, params);
}

static const OSSL_PARAM rsa_gettable[] = {
	OSSL_PARAM_int(OSSL_PKEY_PARAM_BITS, NULL),
	OSSL_PARAM_int(OSSL_PKEY_PARAM_SECURITY_BITS, NULL),
	OSSL_PARAM_int(OSSL_PKEY_PARAM_MAX_SIZE, NULL),
	OSSL_PARAM_utf8_string(OSSL_PKEY_PARAM_DEFAULT_DIGEST, NULL, 0),
	OSSL_PARAM_BN(OSSL_PKEY_PARAM_RSA_N, NULL, 0),
	OSSL_PARAM_BN(OSSL_PKEY_PARAM_RSA_E, NULL, 0),
	OSSL_PARAM_END,
};

static const OSSL_PARAM ec_gettable[] = {
	OSSL_PARAM_int(OSSL_PKEY_PARAM_BITS, NULL),
	OSSL_PARAM_int(OSSL_PKEY_PARAM_SECURITY_BITS, NULL),
	OSSL_PARAM_int(OSSL_PKEY_PARAM_MAX_SIZE, NULL),
	OSSL_PARAM_utf8_string(OSSL_PKEY_PARAM_DEFAULT_DIGEST, NULL, 0),
	OSSL_PARAM_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, NULL, 0),
	OSSL_PARAM_octet_string(OSSL_PKEY_PARAM_PUB_KEY, NULL, 0),
	OSSL_PARAM_octet_string(OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, NULL, 0),
	OSSL_PARAM_utf8_string(OSSL_PKEY_PARAM_EC_POINT_CONVERSION_FORMAT, NULL,
			       0),
	OSSL_PARAM_utf8_string(OSSL_PKEY_PARAM_EC_ENCODING, NULL, 0),
	OSSL_PARAM_END,
};

static const OSSL_PARAM ecx_gettable[] = {
	OSSL_PARAM_int(OSSL_PKEY_PARAM_BITS, NULL),
	OSSL_PARAM_int(OSSL_PKEY_PARAM_SECURITY_BITS, NULL),
	OSSL_PARAM_int(OSSL_PKEY_PARAM_MAX_SIZE, NULL),
	OSSL_PARAM_utf8_string(OSSL_PKEY_PARAM_MANDATORY_DIGEST, NULL, 0),
	OSSL_PARAM_octet_string(OSSL_PKEY_PARAM_PUB_KEY, NULL, 0),
	OSSL_PARAM_octet_string(OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, NULL, 0),
	OSSL_PARAM_END,
};

static const OSSL_PARAM *
rsa_gettable_params(void *provctx)
{
	return rsa_gettable;
}

static const OSSL_PARAM *
ec_gettable_params(void *provctx)
{
	return ec_gettable;
}

static const OSSL_PARAM *
ecx_gettable_params(void *provctx)
{
	return ecx_gettable;
}

static const char *
rsa_operation_name(int operation_id)
{
	return operation_id == OSSL_OP_SIGNATURE ? signature_names[CP_KEY_RSA]
						 : NULL;
}

static const char *
ec_operation_name(int operation_id)
{
	return operation_id == OSSL_OP_SIGNATURE ? signature_names[CP_KEY_EC]
						 : NULL;
}

static const char *
ed25519_operation_name(int operation_id)
{
	return operation_id == OSSL_OP_SIGNATURE
		       ? signature_names[CP_KEY_ED25519]
		       : NULL;
}

static const char *
ed448_operation_name(int operation_id)
{
	return operation_id == OSSL_OP_SIGNATURE ? signature_names[CP_KEY_ED448]
						 : NULL;
}

static const OSSL_DISPATCH rsa_keymgmt[] = {
	{OSSL_FUNC_KEYMGMT_NEW, (void (*)(void))rsa_new},
	{OSSL_FUNC_KEYMGMT_FREE, (void (*)(void))keydata_free},
	{OSSL_FUNC_KEYMGMT_HAS, (void (*)(void))keydata_has},
	{OSSL_FUNC_KEYMGMT_IMPORT, (void (*)(void))keydata_import},
	{OSSL_FUNC_KEYMGMT_EXPORT, (void (*)(void))keydata_export},
	{OSSL_FUNC_KEYMGMT_MATCH, (void (*)(void))keydata_match},
	{OSSL_FUNC_KEYMGMT_GET_PARAMS, (void (*)(void))keydata_get_params},
	{OSSL_FUNC_KEYMGMT_IMPORT_TYPES, (void (*)(void))rsa_import_types},
	{OSSL_FUNC_KEYMGMT_EXPORT_TYPES, (void (*)(void))rsa_import_types},
	{OSSL_FUNC_KEYMGMT_GETTABLE_PARAMS,
	 (void (*)(void))rsa_gettable_params},
	{OSSL_FUNC_KEYMGMT_QUERY_OPERATION_NAME,
	 (void (*)(void))rsa_operation_name},
	{0, NULL},
};

static const OSSL_DISPATCH ec_keymgmt[] = {
	{OSSL_FUNC_KEYMGMT_NEW, (void (*)(void))ec_new},
	{OSSL_FUNC_KEYMGMT_FREE, (void (*)(void))keydata_free},
	{OSSL_FUNC_KEYMGMT_HAS, (void (*)(void))keydata_has},
	{OSSL_FUNC_KEYMGMT_IMPORT, (void (*)(void))keydata_import},
	{OSSL_FUNC_KEYMGMT_EXPORT, (void (*)(void))keydata_export},
	{OSSL_FUNC_KEYMGMT_MATCH, (void (*)(void))keydata_match},
	{OSSL_FUNC_KEYMGMT_GET_PARAMS, (void (*)(void))keydata_get_params},
	{OSSL_FUNC_KEYMGMT_IMPORT_TYPES, (void (*)(void))ec_import_types},
	{OSSL_FUNC_KEYMGMT_EXPORT_TYPES, (void (*)(void))ec_import_types},
	{OSSL_FUNC_KEYMGMT_GETTABLE_PARAMS, (void (*)(void))ec_gettable_params},
	{OSSL_FUNC_KEYMGMT_QUERY_OPERATION_NAME,
	 (void (*)(void))ec_operation_name},
	{0, NULL},
};

static const OSSL_DISPATCH ed25519_keymgmt[] = {
	{OSSL_FUNC_KEYMGMT_NEW, (void (*)(void))ed25519_new},
	{OSSL_FUNC_KEYMGMT_FREE, (void (*)(void))keydata_free},
	{OSSL_FUNC_KEYMGMT_HAS, (void (*)(void))keydata_has},
	{OSSL_FUNC_KEYMGMT_IMPORT, (void (*)(void))keydata_import},
	{OSSL_FUNC_KEYMGMT_EXPORT, (void (*)(void))keydata_export},
	{OSSL_FUNC_KEYMGMT_MATCH, (void (*)(void))keydata_match},
	{OSSL_FUNC_KEYMGMT_GET_PARAMS, (void (*)(void))keydata_get_params},
	{OSSL_FUNC_KEYMGMT_IMPORT_TYPES, (void (*)(void))ecx_import_types},
	{OSSL_FUNC_KEYMGMT_EXPORT_TYPES, (void (*)(void))ecx_import_types},
	{OSSL_FUNC_KEYMGMT_GETTABLE_PARAMS,
	 (void (*)(void))ecx_gettable_params},
	{OSSL_FUNC_KEYMGMT_QUERY_OPERATION_NAME,
	 (void (*)(void))ed25519_operation_name},
	{0, NULL},
};

static const OSSL_DISPATCH ed448_keymgmt[] = {
	{OSSL_FUNC_KEYMGMT_NEW, (void (*)(void))ed448_new},
	{OSSL_FUNC_KEYMGMT_FREE, (void (*)(void))keydata_free},
	{OSSL_FUNC_KEYMGMT_HAS, (void (*)(void))keydata_has},
	{OSSL_FUNC_KEYMGMT_IMPORT, (void (*)(void))keydata_import},
	{OSSL_FUNC_KEYMGMT_EXPORT, (void (*)(void))keydata_export},
	{OSSL_FUNC_KEYMGMT_MATCH, (void (*)(void))keydata_match},
	{OSSL_FUNC_KEYMGMT_GET_PARAMS, (void (*)(void))keydata_get_params},
	{OSSL_FUNC_KEYMGMT_IMPORT_TYPES, (void (*)(void))ecx_import_types},
	{OSSL_FUNC_KEYMGMT_EXPORT_TYPES, (void (*)(void))ecx_import_types},
	{OSSL_FUNC_KEYMGMT_GETTABLE_PARAMS,
	 (void (*)(void))ecx_gettable_params},
	{OSSL_FUNC_KEYMGMT_QUERY_OPERATION_NAME,
	 (void (*)(void))ed448_operation_name},
	{0, NULL},
};

/* Signatures. */

static void *
sigctx_new(enum cp_key_kind kind)
{
	struct cp_sigctx *ctx = calloc(1, sizeof(*ctx));

	if (!ctx)
		return NULL;
	ctx->kind = kind;
	ctx->padding = RSA_PKCS1_PADDING;
	return ctx;
}

static void *
rsa_sig_new(void *provctx, const char *propq)
{
	return sigctx_new(CP_KEY_RSA);
}

static void *
ec_sig_new(void *provctx, const char *propq)
{
	return sigctx_new(CP_KEY_EC);
}

static void *
ed25519_sig_new(void *provctx, const char *propq)
{
	return sigctx_new(CP_KEY_ED25519);
}

static void *
ed448_sig_new(void *provctx, const char *propq)
{
	return sigctx_new(CP_KEY_ED448);
}

static void
sigctx_free(void *sigctx)
{
	struct cp_sigctx *ctx = sigctx;

	if (!ctx)
		return;
	EVP_MD_free(ctx->md);
	free(ctx);
}

static bool
is_eddsa(enum cp_key_kind kind)
{
	return kind == CP_KEY_ED25519 || kind == CP_KEY_ED448;
}

/* The TLS hash code of a digest (RFC 5246 section 7.4.1.4.1), or 0 for
 * digests that TLS does not sign with. */
static unsigned
tls_hash_code(const EVP_MD *md)
{
	switch (EVP_MD_get_type(md)) {
	case NID_sha1:
		return 2;
	case NID_sha224:
		return 3;
	case NID_sha256:
		return 4;
	case NID_sha384:
		return 5;
	case NID_sha512:
		return 6;
	}
	return 0;
}

/* The TLS signature scheme that this context signs with, or NULL. */
static const struct cp_sigalg *
context_sigalg(const struct cp_sigctx *ctx)
{
	unsigned hash = ctx->md ? tls_hash_code(ctx->md) : 0;

	switch (ctx->kind) {
	case CP_KEY_RSA:
		if (ctx->padding == RSA_PKCS1_PSS_PADDING)
			/* rsa_pss_rsae_sha256 is 0x0804, up to 0x0806. */
			return hash >= 4 ? cp_sigalg_by_code(0x0800 + hash)
					 : NULL;
		return hash ? cp_sigalg_by_code(hash << 8 | 1) : NULL;
	case CP_KEY_EC:
		return hash ? cp_sigalg_by_code(hash << 8 | 3) : NULL;
	case CP_KEY_ED25519:
		return cp_sigalg_by_code(0x0807);
	case CP_KEY_ED448:
		return cp_sigalg_by_code(0x0808);
	}
	return NULL;
}

static int sigctx_set_params(void *sigctx, const OSSL_PARAM params[]);

/* libssl also calls this to probe whether a key can sign with a digest,
 * so it must not contact certpickd. */
static int
sigctx_digest_sign_init(void *sigctx, const char *mdname, void *provkey,
			const OSSL_PARAM params[])
{
	struct cp_sigctx *ctx = sigctx;
	struct cp_keydata *key = provkey;

	if (!ctx || !key || key->kind != ctx->kind || !key->link)
		return 0;
	ctx->key = key;
	ctx->padding = RSA_PKCS1_PADDING;
	EVP_MD_free(ctx->md);
	ctx->md = NULL;

	if (mdname && *mdname && strcmp(mdname, "UNDEF") != 0) {
		if (is_eddsa(ctx->kind))
			return 0;
		ctx->md = EVP_MD_fetch(NULL, mdname, "provider=default");
		if (!ctx->md || !tls_hash_code(ctx->md))
			return 0;
	} else if (!is_eddsa(ctx->kind)) {
		return 0;
	}
	return sigctx_set_params(ctx, params);
}

static int
set_padding(struct cp_sigctx *ctx, const OSSL_PARAM *p)
{
	const char *name;

	if (p->data_type == OSSL_PARAM_INTEGER)
		return OSSL_PARAM_get_int(p, &ctx->padding);
	if (!OSSL_PARAM_get_utf8_string_ptr(p, &name))
		return 0;
	if (strcmp(name, OSSL_PKEY_RSA_PAD_MODE_PKCSV15) == 0)
		ctx->padding = RSA_PKCS1_PADDING;
	else if (strcmp(name, OSSL_PKEY_RSA_PAD_MODE_PSS) == 0)
		ctx->padding = RSA_PKCS1_PSS_PADDING;
	else
		return 0;
	return 1;
}

/* certpickd signs PSS as TLS does, with the salt as long as the digest, so
 * that is the only salt length accepted here. */
static int
check_salt_length(const struct cp_sigctx *ctx, const OSSL_PARAM *p)
{
	const char *name;
	int length;

	if (p->data_type == OSSL_PARAM_UTF8_STRING) {
		if (!OSSL_PARAM_get_utf8_string_ptr(p, &name))
			return 0;
		return strcmp(name, OSSL_PKEY_RSA_PSS_SALT_LEN_DIGEST) == 0;
	}
	if (!OSSL_PARAM_get_int(p, &length))
		return 0;
	return length == RSA_PSS_SALTLEN_DIGEST ||
	       (ctx->md && length == EVP_MD_get_size(ctx->md));
}

/* A digest named after init must be the one already set, because TLS
 * uses one hash for PSS's message digest and its MGF1. */
static int
check_digest(const struct cp_sigctx *ctx, const OSSL_PARAM *p)
{
	const char *name;

	if (!OSSL_PARAM_get_utf8_string_ptr(p, &name))
		return 0;
	return ctx->md && EVP_MD_is_a(ctx->md, name);
}

static int
sigctx_set_params(void *sigctx, const OSSL_PARAM params[])
{
	struct cp_sigctx *ctx = sigctx;
	const OSSL_PARAM *p;

	if (!ctx)
		return 0;
	if (!params)
		return 1;
	p = OSSL_PARAM_locate_const(params, OSSL_SIGNATURE_PARAM_PAD_MODE);
	if (p && (ctx->kind != CP_KEY_RSA || !set_padding(ctx, p)))
		return 0;
	p = OSSL_PARAM_locate_const(params, OSSL_SIGNATURE_PARAM_PSS_SALTLEN);
	if (p && (ctx->kind != CP_KEY_RSA || !check_salt_length(ctx, p)))
		return 0;
	p = OSSL_PARAM_locate_const(params, OSSL_SIGNATURE_PARAM_MGF1_DIGEST);
	if (p && !check_digest(ctx, p))
		return 0;
	p = OSSL_PARAM_locate_const(params, OSSL_SIGNATURE_PARAM_DIGEST);
	if (p && !check_digest(ctx, p))
		return 0;
	return 1;
}

static const OSSL_PARAM settable_rsa[] = {
	OSSL_PARAM_utf8_string(OSSL_SIGNATURE_PARAM_PAD_MODE, NULL, 0),
	OSSL_PARAM_utf8_string(OSSL_SIGNATURE_PARAM_PSS_SALTLEN, NULL, 0),
	OSSL_PARAM_utf8_string(OSSL_SIGNATURE_PARAM_MGF1_DIGEST, NULL, 0),
	OSSL_PARAM_utf8_string(OSSL_SIGNATURE_PARAM_DIGEST, NULL, 0),
	OSSL_PARAM_END,
};

static const OSSL_PARAM settable_other[] = {
	OSSL_PARAM_utf8_string(OSSL_SIGNATURE_PARAM_DIGEST, NULL, 0),
	OSSL_PARAM_END,
};

static const OSSL_PARAM *
sigctx_settable_params(void *sigctx, void *provctx)
{
	struct cp_sigctx *ctx = sigctx;

	return ctx && ctx->kind == CP_KEY_RSA ? settable_rsa : settable_other;
}

/* Sends Sign to certpickd and copies the signature into sig. EdDSA signs
 * the whole message, so it travels as data (several KB for a TLS 1.2
 * transcript); the other schemes send only its digest. NOTE: the call
 * blocks the thread, and so a libevent loop, until certpickd replies (up
 * to CP_AGENT_CALL_TIMEOUT_MS), because OpenSSL expects the signature
 * before digest_sign returns. */
static int
remote_sign(struct cp_sigctx *ctx, const struct cp_sigalg *alg,
	    unsigned char *sig, size_t *siglen, size_t sigsize,
	    const unsigned char *tbs, size_t tbslen)
{
	struct cp_agent_link *link = ctx->key->link;
	unsigned char digest[EVP_MAX_MD_SIZE];
	unsigned int digest_len = 0;
	struct cp_agent_reply reply = {0};
	char err[CP_ERROR_MAX];
	json_t *parameters, *signature;
	char *input = NULL;
	uint8_t *decoded = NULL;
	size_t decoded_len = 0;
	int ok = 0;

	if (ctx->md) {
		if (!EVP_Digest(tbs, tbslen, digest, &digest_len, ctx->md,
				NULL))
			return 0;
		input = cp_base64_encode(digest, digest_len);
	} else {
		input = cp_base64_encode(tbs, tbslen);
	}
	parameters = json_pack("{s:s, s:s, s:s}", "id", ctx->key->id,
			       "algorithm", alg->name,
			       ctx->md ? "digest" : "data", input ? input : "");
	if (!input || !parameters)
		goto out;

	if (cp_agent_call(link->fd, "org.certpick.Agent.Sign", parameters,
			  CP_AGENT_CALL_TIMEOUT_MS, &reply, err,
			  sizeof(err)) < 0) {
		snprintf(link->error, sizeof(link->error), "%s", err);
		link->broken = true;
		goto out;
	}
	if (cp_agent_check_reply("Sign", reply.error, reply.parameters, err,
				 sizeof(err)) < 0) {
		snprintf(link->error, sizeof(link->error), "%s", err);
		link->broken = true;
		goto out;
	}
	if (reply.error) {
		/* Errors of org.varlink.service are not checked above. */
		const char *reason = json_string_value(
			json_object_get(reply.parameters, "reason"));

		snprintf(link->error, sizeof(link->error),
			 "certpickd could not sign with %s: %.100s%s%.200s",
			 alg->name, reply.error, reason ? ": " : "",
			 reason ? reason : "");
		goto out;
	}
	signature = json_object_get(reply.parameters, "signature");
	if (!json_is_string(signature) ||
	    cp_base64_decode(json_string_value(signature),
			     json_string_length(signature), &decoded,
			     &decoded_len) < 0 ||
	    decoded_len == 0 || decoded_len > sigsize) {
		snprintf(link->error, sizeof(link->error),
			 "certpickd returned an invalid signature for %s",
			 alg->name);
		goto out;
	}
	memcpy(sig, decoded, decoded_len);
	*siglen = decoded_len;
	ok = 1;

out:
	if (!ok)
		ERR_raise_data(ERR_LIB_USER, ERR_R_OPERATION_FAIL, "%s",
			       link->error[0] ? link->error
					      : "cannot call certpickd's Sign");
	free(decoded);
	free(input);
	json_decref(parameters);
	cp_agent_reply_clear(&reply);
	return ok;
}

static int
sigctx_digest_sign(void *sigctx, unsigned char *sig, size_t *siglen,
		   size_t sigsize, const unsigned char *tbs, size_t tbslen)
{
	struct cp_sigctx *ctx = sigctx;
	const struct cp_sigalg *alg;

	if (!ctx || !ctx->key)
		return 0;

	/* The size query needs no signature, so certpickd is not asked. */
	if (!sig) {
		*siglen = (size_t)EVP_PKEY_get_size(ctx->key->pub);
		return 1;
	}

	alg = context_sigalg(ctx);
	if (!alg) {
		snprintf(ctx->key->link->error, sizeof(ctx->key->link->error),
			 "no TLS signature scheme for this %s key, digest "
			 "and padding",
			 key_type_names[ctx->kind]);
		ERR_raise_data(ERR_LIB_USER, ERR_R_UNSUPPORTED, "%s",
			       ctx->key->link->error);
		return 0;
	}
	ctx->key->link->error[0] = '\0';
	return remote_sign(ctx, alg, sig, siglen, sigsize, tbs, tbslen);
}

static const OSSL_DISPATCH rsa_signature[] = {
	{OSSL_FUNC_SIGNATURE_NEWCTX, (void (*)(void))rsa_sig_new},
	{OSSL_FUNC_SIGNATURE_FREECTX, (void (*)(void))sigctx_free},
	{OSSL_FUNC_SIGNATURE_DIGEST_SIGN_INIT,
	 (void (*)(void))sigctx_digest_sign_init},
	{OSSL_FUNC_SIGNATURE_DIGEST_SIGN, (void (*)(void))sigctx_digest_sign},
	{OSSL_FUNC_SIGNATURE_SET_CTX_PARAMS, (void (*)(void))sigctx_set_params},
	{OSSL_FUNC_SIGNATURE_SETTABLE_CTX_PARAMS,
	 (void (*)(void))sigctx_settable_params},
	{0, NULL},
};

static const OSSL_DISPATCH ec_signature[] = {
	{OSSL_FUNC_SIGNATURE_NEWCTX, (void (*)(void))ec_sig_new},
	{OSSL_FUNC_SIGNATURE_FREECTX, (void (*)(void))sigctx_free},
	{OSSL_FUNC_SIGNATURE_DIGEST_SIGN_INIT,
	 (void (*)(void))sigctx_digest_sign_init},
	{OSSL_FUNC_SIGNATURE_DIGEST_SIGN, (void (*)(void))sigctx_digest_sign},
	{OSSL_FUNC_SIGNATURE_SET_CTX_PARAMS, (void (*)(void))sigctx_set_params},
	{OSSL_FUNC_SIGNATURE_SETTABLE_CTX_PARAMS,
	 (void (*)(void))sigctx_settable_params},
	{0, NULL},
};

static const OSSL_DISPATCH ed25519_signature[] = {
	{OSSL_FUNC_SIGNATURE_NEWCTX, (void (*)(void))ed25519_sig_new},
	{OSSL_FUNC_SIGNATURE_FREECTX, (void (*)(void))sigctx_free},
	{OSSL_FUNC_SIGNATURE_DIGEST_SIGN_INIT,
	 (void (*)(void))sigctx_digest_sign_init},
	{OSSL_FUNC_SIGNATURE_DIGEST_SIGN, (void (*)(void))sigctx_digest_sign},
	{OSSL_FUNC_SIGNATURE_SET_CTX_PARAMS, (void (*)(void))sigctx_set_params},
	{OSSL_FUNC_SIGNATURE_SETTABLE_CTX_PARAMS,
	 (void (*)(void))sigctx_settable_params},
	{0, NULL},
};

static const OSSL_DISPATCH ed448_signature[] = {
	{OSSL_FUNC_SIGNATURE_NEWCTX, (void (*)(void))ed448_sig_new},
	{OSSL_FUNC_SIGNATURE_FREECTX, (void (*)(void))sigctx_free},
	{OSSL_FUNC_SIGNATURE_DIGEST_SIGN_INIT,
	 (void (*)(void))sigctx_digest_sign_init},
	{OSSL_FUNC_SIGNATURE_DIGEST_SIGN, (void (*)(void))sigctx_digest_sign},
	{OSSL_FUNC_SIGNATURE_SET_CTX_PARAMS, (void (*)(void))sigctx_set_params},
	{OSSL_FUNC_SIGNATURE_SETTABLE_CTX_PARAMS,
	 (void (*)(void))sigctx_settable_params},
	{0, NULL},
};

/* The provider. The key types keep their standard names and aliases, so
 * that EVP_PKEY_is_a(key, "EC") and EVP_PKEY_get_id work and libssl picks
 * the right signature schemes for them. */

#define CP_PROPERTIES "provider=" CP_PROVIDER_NAME

static const OSSL_ALGORITHM keymgmt_algorithms[] = {
	{"RSA:rsaEncryption:1.2.840.113549.1.1.1", CP_PROPERTIES, rsa_keymgmt,
	 "certpick RSA key"},
	{"EC:id-ecPublicKey:1.2.840.10045.2.1", CP_PROPERTIES, ec_keymgmt,
	 "certpick EC key"},
	{"ED25519:1.3.101.112", CP_PROPERTIES, ed25519_keymgmt,
	 "certpick Ed25519 key"},
	{"ED448:1.3.101.113", CP_PROPERTIES, ed448_keymgmt,
	 "certpick Ed448 key"},
	{NULL, NULL, NULL, NULL},
};

static const OSSL_ALGORITHM signature_algorithms[] = {
	{"CERTPICK-RSA", CP_PROPERTIES, rsa_signature, NULL},
	{"CERTPICK-EC", CP_PROPERTIES, ec_signature, NULL},
	{"CERTPICK-ED25519", CP_PROPERTIES, ed25519_signature, NULL},
	{"CERTPICK-ED448", CP_PROPERTIES, ed448_signature, NULL},
	{NULL, NULL, NULL, NULL},
};

static const OSSL_ALGORITHM *
provider_query(void *provctx, int operation_id, int *no_cache)
{
	*no_cache = 0;
	switch (operation_id) {
	case OSSL_OP_KEYMGMT:
		return keymgmt_algorithms;
	case OSSL_OP_SIGNATURE:
		return signature_algorithms;
	}
	return NULL;
}

static const OSSL_DISPATCH provider_functions[] = {
	{OSSL_FUNC_PROVIDER_QUERY_OPERATION, (void (*)(void))provider_query},
	{0, NULL},
};

static int
provider_entry(const OSSL_CORE_HANDLE *handle, const OSSL_DISPATCH *in,
	       const OSSL_DISPATCH **out, void **provctx)
{
	*out = provider_functions;
	*provctx = (void *)handle;
	return 1;
}

static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static char init_error[256];
static int init_result = -1;

/* Loaded for the life of the process, until OPENSSL_cleanup. */
static OSSL_PROVIDER *default_provider;
static OSSL_PROVIDER *certpick_provider;

static void
unload_providers(void)
{
	if (certpick_provider)
		OSSL_PROVIDER_unload(certpick_provider);
	if (default_provider)
		OSSL_PROVIDER_unload(default_provider);
	certpick_provider = NULL;
	default_provider = NULL;
}

static void
load_providers(void)
{
	/* Loading any provider turns off the automatic loading of the
	 * default one, so it is loaded explicitly, first. */
	default_provider = OSSL_PROVIDER_load(NULL, "default");
	if (!default_provider) {
		snprintf(init_error, sizeof(init_error),
			 "cannot load OpenSSL's default provider");
		return;
	}
	if (OSSL_PROVIDER_add_builtin(NULL, CP_PROVIDER_NAME, provider_entry))
		certpick_provider = OSSL_PROVIDER_load(NULL, CP_PROVIDER_NAME);
	if (!certpick_provider) {
		snprintf(init_error, sizeof(init_error),
			 "cannot load the certpick OpenSSL provider");
		return;
	}

	/* Our key management also matches fetches of "RSA" and "EC", but it
	 * cannot generate keys. A fetch that landed on it would make libssl
	 * drop every curve whose key exchange it cannot run, the NIST curves
	 * among them (seen with OpenSSL 3.0.22). */
	if (!EVP_set_default_properties(NULL, "?provider=default")) {
		snprintf(init_error, sizeof(init_error),
			 "cannot set OpenSSL's default properties");
		return;
	}
	OPENSSL_atexit(unload_providers);
	init_result = 0;
}

int
cp_provider_init(char *err, size_t err_size)
{
	pthread_once(&init_once, load_providers);
	if (init_result < 0)
		snprintf(err, err_size, "%s", init_error);
	return init_result;
}

/* The curves the ECDSA schemes are defined on. */
static bool
curve_supported(EVP_PKEY *pub)
{
	char group[64];

	if (!EVP_PKEY_get_group_name(pub, group, sizeof(group), NULL))
		return false;
	return strcmp(group, "prime256v1") == 0 ||
	       strcmp(group, "secp384r1") == 0 ||
	       strcmp(group, "secp521r1") == 0;
}

EVP_PKEY *
cp_remote_key_new(struct cp_agent_link *link, const char *id, EVP_PKEY *pub,
		  char *err, size_t err_size)
{
	struct cp_key_spec spec = {link, id, pub};
	struct cp_key_spec *spec_ptr = &spec;
	const char *type = NULL;
	OSSL_PARAM params[2];
	EVP_PKEY_CTX *ctx;
	EVP_PKEY *key = NULL;

	for (size_t i = 0; i < sizeof(key_type_names) / sizeof(*key_type_names);
	     i++)
		if (EVP_PKEY_is_a(pub, key_type_names[i]))
			type = key_type_names[i];
	if (!type || (strcmp(type, "EC") == 0 && !curve_supported(pub))) {
		snprintf(err, err_size,
			 "the certificate's %s key cannot sign in TLS through "
			 "certpick; use an RSA, P-256, P-384, P-521, Ed25519 "
			 "or Ed448 key",
			 EVP_PKEY_get0_type_name(pub));
		return NULL;
	}

	params[0] = OSSL_PARAM_construct_octet_ptr(
		CP_PARAM_KEY_SPEC, (void **)&spec_ptr, sizeof(spec));
	params[1] = OSSL_PARAM_construct_end();
	ctx = EVP_PKEY_CTX_new_from_name(NULL, type, CP_PROPERTIES);
	if (!ctx || EVP_PKEY_fromdata_init(ctx) <= 0 ||
	    EVP_PKEY_fromdata(ctx, &key, EVP_PKEY_KEYPAIR, params) <= 0) {
		snprintf(err, err_size,
			 "cannot create the certpick %s key in OpenSSL", type);
		key = NULL;
	}
	EVP_PKEY_CTX_free(ctx);
	return key;
}
