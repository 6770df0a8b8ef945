/* Small helpers of the identity store: error messages, the OpenSSL
 * library context for decoding, identity ids, and the cost of
 * password-based encryption. */
#include <pthread.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/provider.h>

#include "log.h"
#include "store-private.h"

void
cp_set_error(char *err, size_t err_size, const char *fmt, ...)
{
	va_list ap;

	if (!err_size)
		return;
	va_start(ap, fmt);
	vsnprintf(err, err_size, fmt, ap);
	va_end(ap);
}

const char *
cp_openssl_reason(void)
{
	unsigned long e = ERR_peek_last_error();
	const char *reason = e ? ERR_reason_error_string(e) : NULL;

	ERR_clear_error();
	return reason ? reason : "unknown error";
}

static OSSL_LIB_CTX *store_libctx;
static bool store_legacy;
static pthread_once_t store_libctx_once = PTHREAD_ONCE_INIT;

static void
load_providers(void)
{
	store_libctx = OSSL_LIB_CTX_new();
	if (!store_libctx) {
		log_error("cannot create an OpenSSL library context");
		return;
	}
	if (!OSSL_PROVIDER_load(store_libctx, "default"))
		log_error("cannot load OpenSSL's default provider: %s",
			  cp_openssl_reason());
	store_legacy = OSSL_PROVIDER_load(store_libctx, "legacy") != NULL;
	if (!store_legacy)
		log_debug("OpenSSL's legacy provider is not available: %s",
			  cp_openssl_reason());
}

OSSL_LIB_CTX *
cp_store_libctx(void)
{
	pthread_once(&store_libctx_once, load_providers);
	return store_libctx;
}

bool
cp_store_legacy_loaded(void)
{
	pthread_once(&store_libctx_once, load_providers);
	return store_legacy;
}

int
cp_certificate_id(X509 *certificate, char id[CP_IDENTITY_ID_SIZE])
{
	unsigned char digest[EVP_MAX_MD_SIZE];
	unsigned int digest_len = 0;

	if (!X509_digest(certificate, EVP_sha256(), digest, &digest_len) ||
	    digest_len * 2 + 1 != CP_IDENTITY_ID_SIZE)
		return -1;
	for (unsigned i = 0; i < digest_len; i++)
		snprintf(id + 2 * i, 3, "%02x", digest[i]);
	return 0;
}

bool
cp_id_valid(const char *id)
{
	size_t i;

	for (i = 0; id[i]; i++)
		if (!((id[i] >= '0' && id[i] <= '9') ||
		      (id[i] >= 'a' && id[i] <= 'f')))
			return false;
	return i == CP_IDENTITY_ID_SIZE - 1;
}

/* Reads a count of a KDF parameter, which must be positive. Returns false
 * for a missing, negative or enormous one. */
static bool
read_count(const ASN1_INTEGER *value, uint64_t *count)
{
	return value && ASN1_INTEGER_get_uint64(count, value) == 1 &&
	       *count > 0;
}

int
cp_kdf_iterations_check(const ASN1_INTEGER *iterations, const char *what,
			char *err, size_t err_size)
{
	uint64_t count = 1;

	/* An absent count means 1, as in a PKCS #12 MacData. */
	if (iterations && !read_count(iterations, &count))
		count = UINT64_MAX;
	if (count <= CP_KDF_ITERATIONS_MAX)
		return 0;
	if (count == UINT64_MAX)
		cp_set_error(err, err_size,
			     "%s has an iteration count that is not a number "
			     "from 1 to %d",
			     what, CP_KDF_ITERATIONS_MAX);
	else
		cp_set_error(err, err_size,
			     "%s asks for %llu iterations of its key "
			     "derivation, more than the %d that certpick runs",
			     what, (unsigned long long)count,
			     CP_KDF_ITERATIONS_MAX);
	return -1;
}

/* Checks scrypt's cost: its time grows with N * r * p. */
static int
check_scrypt(const X509_ALGOR *keyfunc, const char *what, char *err,
	     size_t err_size)
{
	SCRYPT_PARAMS *params = ASN1_TYPE_unpack_sequence(
		ASN1_ITEM_rptr(SCRYPT_PARAMS), keyfunc->parameter);
	uint64_t n = 0, r = 0, p = 0;
	bool within;

	if (!params)
		return 0; /* OpenSSL rejects it without deriving a key */
	within = read_count(params->costParameter, &n) &&
		 read_count(params->blockSize, &r) &&
		 read_count(params->parallelizationParameter, &p) &&
		 n <= CP_SCRYPT_WORK_MAX && r <= CP_SCRYPT_WORK_MAX / n &&
		 p <= CP_SCRYPT_WORK_MAX / (n * r);
	SCRYPT_PARAMS_free(params);
	if (within)
		return 0;
	cp_set_error(err, err_size,
		     "%s asks for scrypt with N * r * p above the %d that "
		     "certpick runs",
		     what, CP_SCRYPT_WORK_MAX);
	return -1;
}

/* Checks PBES2 (RFC 8018): PBKDF2's iterations, or scrypt's cost. */
static int
check_pbes2(const X509_ALGOR *algorithm, const char *what, char *err,
	    size_t err_size)
{
	PBE2PARAM *pbe2 = ASN1_TYPE_unpack_sequence(ASN1_ITEM_rptr(PBE2PARAM),
						    algorithm->parameter);
	PBKDF2PARAM *pbkdf2;
	int r = 0;

	if (!pbe2)
		return 0; /* OpenSSL rejects it without deriving a key */
	switch (OBJ_obj2nid(pbe2->keyfunc->algorithm)) {
	case NID_id_pbkdf2:
		pbkdf2 = ASN1_TYPE_unpack_sequence(ASN1_ITEM_rptr(PBKDF2PARAM),
						   pbe2->keyfunc->parameter);
		if (pbkdf2)
			r = cp_kdf_iterations_check(pbkdf2->iter, what, err,
						    err_size);
		PBKDF2PARAM_free(pbkdf2);
		break;
	case NID_id_scrypt:
		r = check_scrypt(pbe2->keyfunc, what, err, err_size);
		break;
	}
	PBE2PARAM_free(pbe2);
	return r;
}

int
cp_pbe_check_cost(const X509_ALGOR *algorithm, const char *what, char *err,
		  size_t err_size)
{
	PBEPARAM *pbe;
	int r;

	if (OBJ_obj2nid(algorithm->algorithm) == NID_pbes2)
		return check_pbes2(algorithm, what, err, err_size);

	/* PKCS #5 v1.5 and PKCS #12 schemes take a salt and a count. */
	pbe = ASN1_TYPE_unpack_sequence(ASN1_ITEM_rptr(PBEPARAM),
					algorithm->parameter);
	if (!pbe)
		return 0;
	r = cp_kdf_iterations_check(pbe->iter, what, err, err_size);
	PBEPARAM_free(pbe);
	return r;
}
