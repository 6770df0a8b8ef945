/* Small helpers of the identity store: error messages, the OpenSSL
 * library context for decoding and identity ids. */
#include <pthread.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include <openssl/err.h>
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
