/* Fuzz target for the identity file parser (daemon/store-file.c): header
 * lines, then PEM blocks of a certificate, its chain and a key. A file
 * that parses is named after its certificate and loaded the way
 * certpickd loads the store, and each identity the store keeps must be
 * describable as JSON (otherwise ListIdentities and every dialog fail)
 * and matchable. A key in clear is decoded and must sign. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>

#include "fuzz-support.h"
#include "matcher.h"
#include "store-private.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Returns the id that a parse error names ("... whose id is ID"), so that
 * the file can be named after its certificate, or NULL. */
static const char *
id_from_error(const char *err)
{
	const char *id = strstr(err, "whose id is ");

	if (!id)
		return NULL;
	id += strlen("whose id is ");
	return strlen(id) == CP_IDENTITY_ID_SIZE - 1 ? id : NULL;
}

static void
check_json(struct cp_identity *identity)
{
	json_t *object = cp_identity_to_json(
		identity, CP_JSON_IDENTITY | CP_JSON_CANDIDATE);

	if (!object) {
		fprintf(stderr, "identity %s cannot be described as JSON\n",
			cp_identity_id(identity));
		abort();
	}
	json_decref(object);
}

/* Signs with every scheme that fits the key, when the key is in clear. */
static void
check_signing(struct cp_identity *identity)
{
	static const char *const schemes[] = {
		"rsa_pss_rsae_sha256",
		"rsa_pkcs1_sha256",
		"rsa_pss_pss_sha256",
		"ecdsa_secp256r1_sha256",
		"ecdsa_secp384r1_sha384",
		"ed25519",
		"ed448",
	};
	static const uint8_t message[] = "certpick fuzz";
	char err[512];

	if (cp_identity_locked(identity) ||
	    cp_identity_unlock(identity, "", NULL, err, sizeof(err)) != 0)
		return;
	for (size_t i = 0; i < sizeof(schemes) / sizeof(*schemes); i++) {
		const struct cp_sigalg *alg = cp_sigalg_by_name(schemes[i]);
		uint8_t *signature = NULL;
		size_t len = 0;

		if (!cp_sigalg_fits_key(alg, cp_identity_key_type(identity),
					cp_identity_curve(identity), false))
			continue;
		if (cp_identity_sign(identity, alg, message, sizeof(message),
				     false, &signature, &len, err,
				     sizeof(err)) == 0)
			free(signature);
	}
	ERR_clear_error();
}

/* Loads the file as the only one of a store and runs the matcher on it
 * with the leaf's issuer as the server's CA name. */
static void
check_store(const char *id, const uint8_t *data, size_t size)
{
	char store_dir[4096], name[CP_IDENTITY_ID_SIZE + 16], err[512];
	struct cp_match_request request = {.tls13 = true};
	static const char *const sigalgs[] = {"ecdsa_secp256r1_sha256",
					      "rsa_pss_rsae_sha256", "ed25519"};
	struct cp_verdict *verdicts = NULL;
	struct cp_store *store = NULL;
	ssize_t n;

	snprintf(store_dir, sizeof(store_dir), "%s", fuzz_temp_path("store"));
	snprintf(name, sizeof(name), "store/%s.pem", id);
	if (cp_store_open(store_dir, &store, err, sizeof(err)) < 0) {
		fprintf(stderr, "%s\n", err);
		abort();
	}
	fuzz_write_file(name, data, size);
	if (cp_store_reload(store, err, sizeof(err)) < 0) {
		fprintf(stderr, "%s\n", err);
		abort();
	}

	for (size_t i = 0; i < cp_store_count(store); i++) {
		struct cp_identity *identity = cp_store_get(store, i);

		check_json(identity);
		request.ca_names = sk_X509_NAME_new_null();
		sk_X509_NAME_push(request.ca_names,
				  X509_NAME_dup(X509_get_issuer_name(
					  cp_identity_leaf(identity))));
		request.sigalgs = sigalgs;
		request.n_sigalgs = sizeof(sigalgs) / sizeof(*sigalgs);
		n = cp_match(store, &request, &verdicts);
		if (n != (ssize_t)cp_store_count(store))
			abort();
		for (ssize_t j = 0; j < n; j++) {
			json_t *object = json_object();

			if (cp_verdict_add_json(&verdicts[j], object) < 0)
				abort();
			json_decref(object);
		}
		free(verdicts);
		sk_X509_NAME_pop_free(request.ca_names, X509_NAME_free);
		check_signing(identity);
	}
	cp_store_free(store);
	fuzz_empty_dir(store_dir);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char path[128], err[512], id[CP_IDENTITY_ID_SIZE];
	struct cp_identity *identity;
	const char *named;

	if (size > CP_STORE_FILE_MAX)
		return 0;
	snprintf(path, sizeof(path), "/nonexistent/%064d.pem", 0);
	identity = cp_identity_file_parse(path, (const char *)data, size, err,
					  sizeof(err));
	if (!identity) {
		named = id_from_error(err);
		if (!named)
			return 0;
		snprintf(id, sizeof(id), "%s", named);
		snprintf(path, sizeof(path), "/nonexistent/%s.pem", id);
		identity = cp_identity_file_parse(path, (const char *)data,
						  size, err, sizeof(err));
		if (!identity)
			abort(); /* the same bytes parsed differently */
	}
	snprintf(id, sizeof(id), "%s", cp_identity_id(identity));
	cp_identity_free(identity);
	ERR_clear_error();

	check_store(id, data, size);
	ERR_clear_error();
	return 0;
}
