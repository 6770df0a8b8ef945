/* Parsing a client's request: the server, its CA names and signature
 * schemes, the server certificate, and the key that groups identical
 * requests into one dialog. */
#include "broker-internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/sha.h>
#include <openssl/x509.h>

#include "base64.h"
#include "daemon-limits.h"
#include "log.h"
#include "text.h"

/* The maximum length of a server's organization or common name that the
 * dialog shows, in bytes. RFC 5280 bounds both at 64 characters
 * (ub-organization-name, ub-common-name): at most 256 bytes of UTF-8. */
#define SERVER_NAME_MAX 256

bool
broker_normalize_host(char *host)
{
	return cp_host_normalize(host);
}

/* Appends len bytes to the request's CA names. */
static int
append_ca_name(struct server_request *request, const uint8_t *der, size_t len)
{
	uint8_t *grown = realloc(request->ca_der, request->ca_der_len + len);

	if (!grown)
		return -1;
	memcpy(grown + request->ca_der_len, der, len);
	request->ca_der = grown;
	request->ca_der_len += len;
	request->n_ca_names++;
	return 0;
}

/* Checks each CA name and keeps their DER, one after the other. A waiting
 * request keeps only these bytes: parsed X509_NAME objects take about ten
 * times the memory, and are made again when the matcher runs. Until then
 * the parsed names are kept for the first match. */
static const char *
parse_ca_names(struct server_request *request, json_t *list)
{
	static char bad[32];
	json_t *item;
	size_t i;

	if (!list || json_is_null(list) || json_array_size(list) == 0)
		return NULL;
	request->ca_names =
		sk_X509_NAME_new_reserve(NULL, (int)json_array_size(list));
	if (!request->ca_names)
		return "ca_names";
	json_array_foreach(list, i, item)
	{
		const char *text = json_string_value(item);
		uint8_t *der = NULL;
		const unsigned char *p;
		X509_NAME *name;
		size_t len;
		bool valid;

		if (cp_base64_decode(text, strlen(text), &der, &len) < 0)
			goto invalid;
		p = der;
		name = d2i_X509_NAME(NULL, &p, (long)len);
		valid = name && p == der + len;
		if (!valid || !sk_X509_NAME_push(request->ca_names, name)) {
			X509_NAME_free(name);
			free(der);
			goto invalid;
		}
		if (append_ca_name(request, der, len) < 0) {
			free(der);
			goto invalid;
		}
		free(der);
	}
	return NULL;

invalid:
	snprintf(bad, sizeof(bad), "ca_names[%zu]", i);
	return bad;
}

int
server_request_ca_names(const struct server_request *request,
			STACK_OF(X509_NAME) **out)
{
	const unsigned char *p = request->ca_der;
	const unsigned char *end;

	*out = NULL;
	if (request->n_ca_names == 0)
		return 0;
	end = p + request->ca_der_len; /* ca_der is NULL without names */
	*out = sk_X509_NAME_new_reserve(NULL, (int)request->n_ca_names);
	if (!*out)
		return -1;
	while (p < end) {
		X509_NAME *name = d2i_X509_NAME(NULL, &p, end - p);

		if (!name || !sk_X509_NAME_push(*out, name)) {
			X509_NAME_free(name);
			sk_X509_NAME_pop_free(*out, X509_NAME_free);
			*out = NULL;
			return -1;
		}
	}
	return 0;
}

static const char *
parse_sigalgs(struct server_request *request, json_t *list)
{
	json_t *item;
	size_t i;

	/* An empty list is read like an absent one, as for ca_names. */
	if (!list || json_is_null(list) || json_array_size(list) == 0)
		return NULL;
	request->sigalgs = calloc(json_array_size(list), sizeof(char *));
	if (!request->sigalgs)
		return "sigalgs";
	json_array_foreach(list, i, item)
	{
		request->sigalgs[i] = strdup(json_string_value(item));
		if (!request->sigalgs[i])
			return "sigalgs";
		request->n_sigalgs++;
	}
	return NULL;
}

const char *
server_request_parse(struct server_request *request, json_t *parameters,
		     bool host_required)
{
	json_t *host = json_object_get(parameters, "host");
	json_t *port = json_object_get(parameters, "port");
	json_t *version = json_object_get(parameters, "tls_version");
	const char *bad;

	memset(request, 0, sizeof(*request));
	if (json_is_string(host)) {
		request->host = strdup(json_string_value(host));
		if (!request->host || !broker_normalize_host(request->host))
			return "host";
	} else if (host_required) {
		return "host";
	}
	if (json_is_integer(port)) {
		json_int_t value = json_integer_value(port);

		if (value < 1 || value > 65535)
			return "port";
		request->port = (int)value;
	}
	bad = parse_ca_names(request, json_object_get(parameters, "ca_names"));
	if (bad)
		return bad;
	bad = parse_sigalgs(request, json_object_get(parameters, "sigalgs"));
	if (bad)
		return bad;
	if (json_is_string(version)) {
		const char *text = json_string_value(version);

		if (strcmp(text, "TLSv1.3") == 0)
			request->tls13 = true;
		else if (strcmp(text, "TLSv1.2") != 0)
			return "tls_version";
	}
	return NULL;
}

void
server_request_drop_parsed(struct server_request *request)
{
	sk_X509_NAME_pop_free(request->ca_names, X509_NAME_free);
	request->ca_names = NULL;
}

void
server_request_clear(struct server_request *request)
{
	server_request_drop_parsed(request);
	free(request->host);
	free(request->ca_der);
	for (size_t i = 0; i < request->n_sigalgs; i++)
		free(request->sigalgs[i]);
	free(request->sigalgs);
	memset(request, 0, sizeof(*request));
}

void
broker_refresh_store(struct cp_broker *broker)
{
	char err[256];

	if (cp_store_refresh(broker->store, err, sizeof(err)) < 0)
		log_warning("cannot reload the identity store: %s", err);
}

/* Describes the request to the matcher. *parsed receives CA names that
 * the caller frees, when the request no longer has them parsed. Returns
 * 0, or -1 when out of memory. */
static int
match_request(const struct server_request *request,
	      struct cp_match_request *match, STACK_OF(X509_NAME) **parsed)
{
	*match = (struct cp_match_request){
		.ca_names = request->ca_names,
		.sigalgs = (const char *const *)request->sigalgs,
		.n_sigalgs = request->n_sigalgs,
		.tls13 = request->tls13,
		.now = time(NULL),
	};
	*parsed = NULL;
	if (match->ca_names)
		return 0;
	if (server_request_ca_names(request, parsed) < 0)
		return -1;
	match->ca_names = *parsed;
	return 0;
}

ssize_t
broker_match_loaded(struct cp_broker *broker,
		    const struct server_request *request,
		    struct cp_verdict **verdicts)
{
	struct cp_match_request match;
	STACK_OF(X509_NAME) *parsed;
	ssize_t n;

	if (match_request(request, &match, &parsed) < 0)
		return -1;
	n = cp_match(broker->store, &match, verdicts);
	sk_X509_NAME_pop_free(parsed, X509_NAME_free);
	return n;
}

bool
broker_identity_eligible(struct cp_broker *broker,
			 const struct server_request *request,
			 const struct cp_identity *identity)
{
	struct cp_match_request match;
	STACK_OF(X509_NAME) *parsed;
	unsigned reasons;

	if (match_request(request, &match, &parsed) < 0)
		return false;
	reasons = cp_match_identity(broker->store, &match, identity);
	sk_X509_NAME_pop_free(parsed, X509_NAME_free);
	return reasons == 0;
}

ssize_t
broker_match(struct cp_broker *broker, const struct server_request *request,
	     struct cp_verdict **verdicts)
{
	broker_refresh_store(broker);
	return broker_match_loaded(broker, request, verdicts);
}

/* Returns the first attribute of this type in name as printable UTF-8 of
 * at most SERVER_NAME_MAX bytes (a new string), or NULL when there is none,
 * it is empty or it does not convert. Names come as UTF8String, but also as
 * BMPString or T61String, whose bytes are not UTF-8. */
static char *
server_name_attribute(const X509_NAME *name, int nid)
{
	int index = X509_NAME_get_index_by_NID(name, nid, -1);
	unsigned char *utf8 = NULL;
	char *text;
	int len;

	if (index < 0)
		return NULL;
	len = ASN1_STRING_to_UTF8(
		&utf8,
		X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, index)));
	if (len <= 0) {
		OPENSSL_free(utf8);
		return NULL;
	}
	text = cp_text_printable((const char *)utf8, (size_t)len,
				 SERVER_NAME_MAX);
	OPENSSL_free(utf8);
	return text;
}

/* Reads the organization and common name of the server's certificate. A
 * certificate that does not parse is an invalid parameter, because the
 * client sent it on purpose. Returns 0 or -1. */
int
broker_parse_server_certificate(json_t *value, struct server_names *names)
{
	const char *text = json_string_value(value);
	uint8_t *der = NULL;
	const unsigned char *p;
	X509 *cert;
	size_t len;

	memset(names, 0, sizeof(*names));
	if (!text)
		return 0;
	if (cp_base64_decode(text, strlen(text), &der, &len) < 0)
		return -1;
	p = der;
	cert = d2i_X509(NULL, &p, (long)len);
	free(der);
	if (!cert)
		return -1;
	names->organization = server_name_attribute(X509_get_subject_name(cert),
						    NID_organizationName);
	names->common_name = server_name_attribute(X509_get_subject_name(cert),
						   NID_commonName);
	X509_free(cert);
	return 0;
}

static void
copy_names(struct server_names *to, const struct server_names *from)
{
	to->organization =
		from->organization ? strdup(from->organization) : NULL;
	to->common_name = from->common_name ? strdup(from->common_name) : NULL;
}

int
broker_read_server_certificate(struct cp_broker *broker, json_t *value,
			       struct server_names *names)
{
	struct server_cert_entry *certs = broker->server_certs;
	const char *text = json_string_value(value);
	struct server_cert_entry entry = {0};
	size_t i;

	memset(names, 0, sizeof(*names));
	if (!text)
		return 0;
	if (!EVP_Digest(text, strlen(text), entry.digest, NULL, EVP_sha256(),
			NULL))
		return broker_parse_server_certificate(value, names);
	for (i = 0; i < broker->n_server_certs; i++)
		if (memcmp(certs[i].digest, entry.digest,
			   sizeof(entry.digest)) == 0)
			break;

	if (i < broker->n_server_certs) {
		entry = certs[i];
	} else {
		/* Invalid certificates are not kept: d2i_X509 also fails when
		 * out of memory, which must not stick. */
		if (broker_parse_server_certificate(value, &entry.names) < 0)
			return -1;
		if (broker->n_server_certs == BROKER_SERVER_CERTS_MAX) {
			i = --broker->n_server_certs;
			free(certs[i].names.organization);
			free(certs[i].names.common_name);
		}
		i = broker->n_server_certs++;
	}
	memmove(&certs[1], &certs[0], i * sizeof(*certs));
	certs[0] = entry;
	copy_names(names, &entry.names);
	return 0;
}

void
broker_forget_server_certificates(struct cp_broker *broker)
{
	for (size_t i = 0; i < broker->n_server_certs; i++) {
		free(broker->server_certs[i].names.organization);
		free(broker->server_certs[i].names.common_name);
	}
	broker->n_server_certs = 0;
}

/* The dialog key: requests with the same key share a dialog. It is the
 * SHA-256 of the host, port, TLS version, CA names and signature schemes,
 * in hex, so that a queued request does not keep a second copy of its CA
 * names. */
char *
broker_dialog_key(const struct server_request *server)
{
	unsigned char digest[SHA256_DIGEST_LENGTH];
	char header[CP_HOST_MAX + 32];
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	int header_len, ok;
	char *key;

	header_len = snprintf(header, sizeof(header), "%s%c%d%c%d%c%zu%c",
			      server->host, 0, server->port, 0, server->tls13,
			      0, server->n_ca_names, 0);
	ok = ctx && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) &&
	     EVP_DigestUpdate(ctx, header, (size_t)header_len) &&
	     EVP_DigestUpdate(ctx, server->ca_der, server->ca_der_len);
	for (size_t i = 0; ok && i < server->n_sigalgs; i++)
		ok = EVP_DigestUpdate(ctx, server->sigalgs[i],
				      strlen(server->sigalgs[i]) + 1);
	ok = ok && EVP_DigestFinal_ex(ctx, digest, NULL);
	EVP_MD_CTX_free(ctx);
	key = ok ? malloc(2 * sizeof(digest) + 1) : NULL;
	if (!key)
		return NULL;
	for (size_t i = 0; i < sizeof(digest); i++)
		snprintf(key + 2 * i, 3, "%02x", digest[i]);
	return key;
}
