/* The auto-select policy: Chromium's AutoSelectCertificateForUrls rules. */
#include "policy.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/objects.h>

#include "daemon-limits.h"
#include "log.h"
#include "text.h"

#define POLICY_KEY "AutoSelectCertificateForUrls"

/* Maximum size of a policy file, in bytes. A rule takes about 150 bytes,
 * so a file of tens of thousands of rules fits (an estimate). */
#define POLICY_FILE_MAX (4 * 1024 * 1024)

/* The name attributes a filter may test, as Chromium accepts them. */
enum field {
	FIELD_CN,
	FIELD_L,
	FIELD_O,
	FIELD_OU,
	FIELD_COUNT,
};

static const struct {
	const char *key;
	int nid;
} fields[FIELD_COUNT] = {
	[FIELD_CN] = {"CN", NID_commonName},
	[FIELD_L] = {"L", NID_localityName},
	[FIELD_O] = {"O", NID_organizationName},
	[FIELD_OU] = {"OU", NID_organizationalUnitName},
};

enum host_kind {
	HOST_ANY,
	HOST_EXACT,	 /* a name, matched case-insensitively */
	HOST_SUBDOMAINS, /* "[*.]name": the name and every name below it */
	HOST_IPV4,
	HOST_IPV6,
};

struct rule {
	char *pattern; /* as written, for logs */
	enum host_kind host_kind;
	char *host;
	unsigned char address[16];
	int port; /* -1: any */
	char *issuer[FIELD_COUNT];
	char *subject[FIELD_COUNT];
};

struct cp_policy {
	struct rule *rules;
	size_t n;
};

static void
rule_clear(struct rule *rule)
{
	free(rule->pattern);
	free(rule->host);
	for (int i = 0; i < FIELD_COUNT; i++) {
		free(rule->issuer[i]);
		free(rule->subject[i]);
	}
	memset(rule, 0, sizeof(*rule));
}

void
cp_policy_free(struct cp_policy *policy)
{
	if (!policy)
		return;
	for (size_t i = 0; i < policy->n; i++)
		rule_clear(&policy->rules[i]);
	free(policy->rules);
	free(policy);
}

size_t
cp_policy_rule_count(const struct cp_policy *policy)
{
	return policy ? policy->n : 0;
}

/* Reads "[:port]" and an optional path of "/" or "/" "*" after the host.
 * Returns NULL or the reason the rest is invalid. */
static const char *
parse_port_and_path(struct rule *rule, const char *rest)
{
	rule->port = -1;
	if (*rest == ':') {
		char *end;
		long port;

		rest++;
		if (*rest == '*') {
			rest++;
		} else {
			if (!isdigit((unsigned char)*rest))
				return "the port is not a number or '*'";
			errno = 0;
			port = strtol(rest, &end, 10);
			if (errno || port < 0 || port > 65535)
				return "the port is outside 0-65535";
			rule->port = (int)port;
			rest = end;
		}
	}
	if (*rest == '\0' || strcmp(rest, "/") == 0 || strcmp(rest, "/*") == 0)
		return NULL;
	if (*rest == '/')
		return "certpick matches servers, not paths: remove the path";
	return "unexpected text after the host";
}

static const char *
parse_host(struct rule *rule, const char *text, size_t len)
{
	char host[CP_HOST_MAX + 3];

	if (len == 0)
		return "the host is missing";
	if (len >= sizeof(host))
		return "the host is too long";
	memcpy(host, text, len);
	host[len] = '\0';

	if (strcmp(host, "*") == 0) {
		rule->host_kind = HOST_ANY;
		return NULL;
	}
	/* "[*.]" also starts with '[' and ends with ']'. */
	if (host[0] == '[' && host[len - 1] == ']' &&
	    strncmp(host, "[*.]", 4) != 0) {
		host[len - 1] = '\0';
		if (inet_pton(AF_INET6, host + 1, rule->address) != 1)
			return "the IPv6 address is not valid";
		rule->host_kind = HOST_IPV6;
		return NULL;
	}
	if (inet_pton(AF_INET, host, rule->address) == 1) {
		rule->host_kind = HOST_IPV4;
		return NULL;
	}

	rule->host_kind = HOST_EXACT;
	text = host;
	if (strncmp(host, "[*.]", 4) == 0) {
		rule->host_kind = HOST_SUBDOMAINS;
		text = host + 4;
	}
	if (!*text)
		return "the host is missing";
	if (rule->host_kind == HOST_SUBDOMAINS &&
	    inet_pton(AF_INET, text, rule->address) == 1)
		return "an IP address cannot have '[*.]'";
	for (char *p = (char *)text; *p; p++) {
		*p = (char)tolower((unsigned char)*p);
		if (!isalnum((unsigned char)*p) && *p != '-' && *p != '.' &&
		    *p != '_')
			return "the host has a character that a host name "
			       "cannot have (use '[*.]' for subdomains)";
	}
	/* The host as certpickd normalizes a request's, without its
	 * trailing dot; "a..b" or ".." could never match one. */
	if (!cp_host_normalize((char *)text))
		return "the host has an empty label (two dots in a row, or a "
		       "dot at its start or left at its end)";
	rule->host = strdup(text);
	return rule->host ? NULL : "out of memory";
}

/* Parses a pattern: "*", or [scheme "://"] host [":" port] followed by
 * nothing, "/" or "/" "*". Returns NULL, or the reason it is invalid. */
static const char *
parse_pattern(struct rule *rule, const char *pattern)
{
	const char *host = pattern, *sep, *end;

	if (strcmp(pattern, "*") == 0) {
		rule->host_kind = HOST_ANY;
		rule->port = -1;
		return NULL;
	}
	sep = strstr(pattern, "://");
	if (sep) {
		size_t len = (size_t)(sep - pattern);

		/* Only TLS carries client certificates, so a pattern for
		 * another scheme could never apply. */
		if (!((len == 5 && strncmp(pattern, "https", 5) == 0) ||
		      (len == 1 && pattern[0] == '*')))
			return "the scheme is not https or '*'";
		host = sep + 3;
	}
	if (host[0] == '[' && host[1] != '*') {
		end = strchr(host, ']');
		if (!end)
			return "the IPv6 address lacks its ']'";
		end++;
	} else {
		end = host + strcspn(host, ":/");
	}
	{
		const char *why = parse_host(rule, host, (size_t)(end - host));

		if (why)
			return why;
	}
	return parse_port_and_path(rule, end);
}

static const char *
parse_name_filter(json_t *object, char *values[FIELD_COUNT])
{
	const char *key;
	json_t *value;

	if (!json_is_object(object))
		return "ISSUER and SUBJECT must be objects";
	json_object_foreach(object, key, value)
	{
		int i;

		for (i = 0; i < FIELD_COUNT; i++)
			if (strcmp(key, fields[i].key) == 0)
				break;
		if (i == FIELD_COUNT)
			return "a filter names an attribute other than CN, L, "
			       "O and OU";
		if (!json_is_string(value))
			return "a filter value is not a string";
		values[i] = strdup(json_string_value(value));
		if (!values[i])
			return "out of memory";
	}
	return NULL;
}

static const char *
parse_filter(struct rule *rule, json_t *filter)
{
	const char *key;
	json_t *value;

	if (!json_is_object(filter))
		return "\"filter\" is missing or not an object";
	json_object_foreach(filter, key, value)
	{
		const char *why;

		if (strcmp(key, "ISSUER") == 0)
			why = parse_name_filter(value, rule->issuer);
		else if (strcmp(key, "SUBJECT") == 0)
			why = parse_name_filter(value, rule->subject);
		else
			why = "the filter has a key other than ISSUER and "
			      "SUBJECT";
		if (why)
			return why;
	}
	return NULL;
}

/* Parses one entry of the list: a string holding a JSON object, as
 * Chromium stores it, or that object itself. */
static const char *
parse_rule(struct rule *rule, json_t *entry)
{
	json_t *object = entry, *pattern, *filter;
	json_error_t error;
	const char *why;
	const char *key;
	json_t *value;

	if (json_is_string(entry)) {
		object = json_loads(json_string_value(entry),
				    JSON_REJECT_DUPLICATES, &error);
		if (!object)
			return "the string is not JSON";
	} else {
		json_incref(object);
	}
	if (!json_is_object(object)) {
		json_decref(object);
		return "the entry is not an object";
	}
	json_object_foreach(object, key, value)
	{
		if (strcmp(key, "pattern") != 0 && strcmp(key, "filter") != 0) {
			json_decref(object);
			return "the entry has a key other than pattern and "
			       "filter";
		}
	}
	pattern = json_object_get(object, "pattern");
	filter = json_object_get(object, "filter");
	if (!json_is_string(pattern)) {
		json_decref(object);
		return "\"pattern\" is missing or not a string";
	}
	rule->pattern = strdup(json_string_value(pattern));
	why = rule->pattern ? parse_pattern(rule, rule->pattern)
			    : "out of memory";
	if (!why)
		why = parse_filter(rule, filter);
	json_decref(object);
	return why;
}

/* Reads the policy file, a regular file of at most POLICY_FILE_MAX bytes,
 * into a new NUL-terminated buffer. Returns NULL with the reason in why,
 * or with *missing set when the file does not exist. */
static char *
read_policy_file(const char *path, size_t *len, bool *missing, char *why,
		 size_t why_size)
{
	/* O_NONBLOCK: opening a FIFO would wait for a writer. */
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	char *data = NULL;
	struct stat st;
	ssize_t n = 0;

	*missing = fd < 0 && errno == ENOENT;
	*len = 0;
	if (fd < 0 || fstat(fd, &st) < 0) {
		snprintf(why, why_size, "%s", strerror(errno));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(why, why_size, "it is not a regular file");
		goto out;
	}
	data = malloc(POLICY_FILE_MAX + 1);
	if (!data) {
		snprintf(why, why_size, "out of memory");
		goto out;
	}
	while (*len <= POLICY_FILE_MAX &&
	       ((n = read(fd, data + *len, POLICY_FILE_MAX + 1 - *len)) > 0 ||
		(n < 0 && errno == EINTR)))
		*len += n > 0 ? (size_t)n : 0;
	if (n < 0 || *len > POLICY_FILE_MAX) {
		if (n < 0)
			snprintf(why, why_size, "%s", strerror(errno));
		else
			snprintf(why, why_size,
				 "it is larger than the maximum of %d MiB",
				 POLICY_FILE_MAX / (1024 * 1024));
		free(data);
		data = NULL;
		goto out;
	}
	data[*len] = '\0';

out:
	if (fd >= 0)
		close(fd);
	return data;
}

int
cp_policy_load(const char *path, bool required, struct cp_policy **out,
	       char *err, size_t err_size)
{
	struct cp_policy *policy = calloc(1, sizeof(*policy));
	json_t *root = NULL, *list, *entry;
	json_error_t error;
	char reason[200];
	bool missing;
	char *data;
	size_t i, len;

	*out = NULL;
	if (!policy) {
		snprintf(err, err_size, "out of memory");
		return -1;
	}
	data = read_policy_file(path, &len, &missing, reason, sizeof(reason));
	if (data) {
		root = json_loadb(data, len, JSON_REJECT_DUPLICATES, &error);
		free(data);
		snprintf(reason, sizeof(reason), "%s", root ? "" : error.text);
	}
	if (!root) {
		if (missing && !required) {
			*out = policy;
			return 0;
		}
		snprintf(err, err_size, "cannot load the policy file '%s': %s",
			 path, reason);
		free(policy);
		return -1;
	}
	list = json_is_object(root) ? json_object_get(root, POLICY_KEY) : NULL;
	if (!json_is_object(root) || (list && !json_is_array(list))) {
		snprintf(err, err_size,
			 "the policy file '%s' is not an object with an "
			 "array \"" POLICY_KEY "\"",
			 path);
		json_decref(root);
		free(policy);
		return -1;
	}
	policy->rules =
		calloc(json_array_size(list) + 1, sizeof(*policy->rules));
	if (!policy->rules) {
		snprintf(err, err_size, "out of memory");
		json_decref(root);
		free(policy);
		return -1;
	}
	json_array_foreach(list, i, entry)
	{
		struct rule *rule = &policy->rules[policy->n];
		const char *why = parse_rule(rule, entry);

		if (why && rule->pattern)
			log_warning("policy '%s': ignoring entry %zu, pattern "
				    "'%.200s': %s",
				    path, i, rule->pattern, why);
		else if (why)
			log_warning("policy '%s': ignoring entry %zu: %s", path,
				    i, why);
		if (why) {
			rule_clear(rule);
			continue;
		}
		policy->n++;
	}
	json_decref(root);
	log_info("loaded %zu auto-select rules from '%s'", policy->n, path);
	*out = policy;
	return 0;
}

static bool
host_matches(const struct rule *rule, const char *host)
{
	unsigned char address[16];
	size_t hlen, rlen;

	switch (rule->host_kind) {
	case HOST_ANY:
		return true;
	case HOST_IPV4:
		return inet_pton(AF_INET, host, address) == 1 &&
		       memcmp(address, rule->address, 4) == 0;
	case HOST_IPV6:
		return inet_pton(AF_INET6, host, address) == 1 &&
		       memcmp(address, rule->address, 16) == 0;
	case HOST_EXACT:
		return strcmp(host, rule->host) == 0;
	case HOST_SUBDOMAINS:
		hlen = strlen(host);
		rlen = strlen(rule->host);
		if (hlen == rlen)
			return strcmp(host, rule->host) == 0;
		return hlen > rlen && host[hlen - rlen - 1] == '.' &&
		       strcmp(host + hlen - rlen, rule->host) == 0;
	}
	return false;
}

static bool
rule_applies(const struct rule *rule, const char *host, int port)
{
	return (rule->port < 0 || rule->port == port) &&
	       host_matches(rule, host);
}

bool
cp_policy_applies(const struct cp_policy *policy, const char *host, int port)
{
	for (size_t i = 0; policy && i < policy->n; i++)
		if (rule_applies(&policy->rules[i], host, port))
			return true;
	return false;
}

/* Returns true when one of the name's attributes of this type equals value
 * (compared as UTF-8). */
static bool
name_has(const X509_NAME *name, int nid, const char *value)
{
	int index = -1;

	while ((index = X509_NAME_get_index_by_NID(name, nid, index)) >= 0) {
		const X509_NAME_ENTRY *entry = X509_NAME_get_entry(name, index);
		unsigned char *utf8 = NULL;
		int len = ASN1_STRING_to_UTF8(&utf8,
					      X509_NAME_ENTRY_get_data(entry));
		bool equal = len >= 0 && (size_t)len == strlen(value) &&
			     memcmp(utf8, value, (size_t)len) == 0;

		OPENSSL_free(utf8);
		if (equal)
			return true;
	}
	return false;
}

static bool
rule_fits(const struct rule *rule, X509 *leaf)
{
	const X509_NAME *issuer = X509_get_issuer_name(leaf);
	const X509_NAME *subject = X509_get_subject_name(leaf);

	for (int i = 0; i < FIELD_COUNT; i++) {
		if (rule->issuer[i] &&
		    !name_has(issuer, fields[i].nid, rule->issuer[i]))
			return false;
		if (rule->subject[i] &&
		    !name_has(subject, fields[i].nid, rule->subject[i]))
			return false;
	}
	return true;
}

bool
cp_policy_fits(const struct cp_policy *policy, const char *host, int port,
	       X509 *leaf)
{
	for (size_t i = 0; policy && i < policy->n; i++)
		if (rule_applies(&policy->rules[i], host, port) &&
		    rule_fits(&policy->rules[i], leaf))
			return true;
	return false;
}
