/* The auto-select policy, in the format of Chromium's
 * AutoSelectCertificateForUrls: rules of a server pattern and a filter on
 * the certificate's issuer and subject. data/doc/policy.md describes the
 * patterns and filters accepted. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include <openssl/x509.h>

struct cp_policy;

/* Loads the policy file at path. A missing file is an empty policy unless
 * required is set. Rules that are not valid are skipped with a warning.
 * Returns 0, or -1 with a message in err when the file cannot be read, is
 * not JSON, or does not have the expected shape. */
int cp_policy_load(const char *path, bool required, struct cp_policy **out,
		   char *err, size_t err_size);

void cp_policy_free(struct cp_policy *policy);

size_t cp_policy_rule_count(const struct cp_policy *policy);

/* Returns true when a rule's pattern matches host:port. host is lowercase,
 * without a trailing dot, and IPv6 addresses come without brackets. */
bool cp_policy_applies(const struct cp_policy *policy, const char *host,
		       int port);

/* Returns true when leaf fits the filter of a rule whose pattern matches
 * host:port. */
bool cp_policy_fits(const struct cp_policy *policy, const char *host, int port,
		    X509 *leaf);
