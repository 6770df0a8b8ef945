/* Fuzz target for the auto-select policy file (daemon/policy.c). An input
 * that starts with '{' is a whole policy file; any other input is one URL
 * pattern, with an optional filter object on the lines after it, put into
 * a file of one rule. The loaded policy is then asked about a few servers
 * and a fixed certificate, and must be consistent:
 * - a rule that fits a certificate for host:port also applies to it;
 * - a pattern that names a plain host matches that host, in lowercase and
 *   without a trailing dot, on the port it names (or any port), and
 *   "[*.]" before the host also matches a name below it. */
#include <ctype.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "fuzz-support.h"
#include "policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static X509 *leaf;

static void
add_name_entry(X509_NAME *name, const char *field, const char *value)
{
	if (!X509_NAME_add_entry_by_txt(name, field, MBSTRING_UTF8,
					(const unsigned char *)value, -1, -1,
					0))
		abort();
}

/* A certificate whose names match the filters of the seed corpus. It is
 * never signed: only its names matter here. */
static X509 *
make_leaf(void)
{
	X509 *certificate = X509_new();
	EVP_PKEY *key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	X509_NAME *subject = X509_NAME_new(), *issuer = X509_NAME_new();

	if (!certificate || !key || !subject || !issuer)
		abort();
	add_name_entry(subject, "CN", "Alice");
	add_name_entry(subject, "O", "Example Ltd");
	add_name_entry(subject, "OU", "Operations");
	add_name_entry(subject, "OU", "Sales");
	add_name_entry(subject, "L", "Zürich");
	add_name_entry(issuer, "CN", "Example Issuing CA");
	add_name_entry(issuer, "O", "Example Ltd");
	if (!X509_set_subject_name(certificate, subject) ||
	    !X509_set_issuer_name(certificate, issuer) ||
	    !X509_set_pubkey(certificate, key))
		abort();
	X509_NAME_free(subject);
	X509_NAME_free(issuer);
	EVP_PKEY_free(key);
	return certificate;
}

/* Writes a policy file of one rule with this pattern and filter. Returns
 * false when the text cannot be a JSON string or object. */
static bool
write_one_rule(const char *name, const char *text)
{
	const char *newline = strchr(text, '\n');
	size_t pattern_len = newline ? (size_t)(newline - text) : strlen(text);
	json_t *pattern = json_stringn(text, pattern_len);
	json_t *filter =
		newline ? json_loads(newline + 1, 0, NULL) : json_object();
	json_t *root = NULL;
	char *dump = NULL;

	if (pattern && filter)
		root = json_pack("{s:[{s:O, s:O}]}",
				 "AutoSelectCertificateForUrls", "pattern",
				 pattern, "filter", filter);
	if (root)
		dump = json_dumps(root, 0);
	if (dump)
		fuzz_write_file(name, (const uint8_t *)dump, strlen(dump));
	free(dump);
	json_decref(root);
	json_decref(pattern);
	json_decref(filter);
	return dump != NULL;
}

/* The server that a simple pattern names, as cp_policy_applies expects
 * it, or false when the pattern is not a plain name with an optional
 * scheme, "[*.]" and port. */
static bool
expected_match(const char *pattern, char *host, size_t host_size,
	       bool *subdomains, int *port)
{
	const char *p = pattern;
	size_t n = 0;

	if (strncmp(p, "https://", 8) == 0)
		p += 8;
	else if (strncmp(p, "*://", 4) == 0)
		p += 4;
	*subdomains = strncmp(p, "[*.]", 4) == 0;
	if (*subdomains)
		p += 4;
	for (; *p && *p != ':' && *p != '/'; p++) {
		if (!isalnum((unsigned char)*p) && !strchr("-._", *p))
			return false;
		if (n + 1 >= host_size)
			return false;
		host[n++] = (char)tolower((unsigned char)*p);
	}
	if (n > 0 && host[n - 1] == '.')
		n--;
	host[n] = '\0';
	*port = 443;
	if (*p == ':' && isdigit((unsigned char)p[1])) {
		char *end;
		long value = strtol(p + 1, &end, 10);

		if (value > 65535)
			return false;
		*port = (int)value;
		p = end;
	} else if (*p == ':' && p[1] == '*') {
		p += 2;
	}
	return n > 0 &&
	       (*p == '\0' || strcmp(p, "/") == 0 || strcmp(p, "/*") == 0);
}

static void
check_pattern(const struct cp_policy *policy, const char *text)
{
	char pattern[512], host[600];
	size_t len = strcspn(text, "\n");
	bool subdomains;
	int port;

	if (len >= sizeof(pattern) || cp_policy_rule_count(policy) != 1)
		return;
	memcpy(pattern, text, len);
	pattern[len] = '\0';
	if (!expected_match(pattern, host, sizeof(host) - 8, &subdomains,
			    &port))
		return;
	if (!cp_policy_applies(policy, host, port)) {
		fprintf(stderr, "pattern '%s' does not match %s:%d\n", pattern,
			host, port);
		abort();
	}
	if (subdomains) {
		memmove(host + 4, host, strlen(host) + 1);
		memcpy(host, "www.", 4);
		if (!cp_policy_applies(policy, host, port)) {
			fprintf(stderr, "pattern '%s' does not match %s:%d\n",
				pattern, host, port);
			abort();
		}
	}
}

static void
probe(const struct cp_policy *policy)
{
	static const char *const hosts[] = {
		"example.com",
		"www.example.com",
		"a.b.example.com",
		"127.0.0.1",
		"::1",
		"2001:db8::1",
		"localhost",
		"example.com.",
		"",
	};
	static const int ports[] = {443, 8443, 1, 65535};

	for (size_t i = 0; i < sizeof(hosts) / sizeof(*hosts); i++)
		for (size_t j = 0; j < sizeof(ports) / sizeof(*ports); j++) {
			bool applies =
				cp_policy_applies(policy, hosts[i], ports[j]);
			bool fits = cp_policy_fits(policy, hosts[i], ports[j],
						   leaf);

			if (fits && !applies)
				abort();
		}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = fuzz_string(data, size);
	struct cp_policy *policy = NULL;
	const char *path;
	char err[512];
	bool whole_file = size > 0 && data[0] == '{';

	if (!leaf)
		leaf = make_leaf();
	if (whole_file) {
		path = fuzz_write_file("policy.json", data, size);
	} else {
		if (memchr(data, '\0', size) ||
		    !write_one_rule("policy.json", text)) {
			free(text);
			return 0;
		}
		path = fuzz_temp_path("policy.json");
	}

	if (cp_policy_load(path, true, &policy, err, sizeof(err)) == 0) {
		probe(policy);
		if (!whole_file)
			check_pattern(policy, text);
		cp_policy_free(policy);
	}
	free(text);
	return 0;
}
