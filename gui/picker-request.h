/* A Choose request of org.certpick.Picker, read from its already checked
 * parameters into plain structs that the dialog shows. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <glib.h>
#include <jansson.h>

/* The scopes that "remember" may take, as a bit set. */
enum picker_scope {
	PICKER_SCOPE_ONCE = 1 << 0,
	PICKER_SCOPE_SESSION = 1 << 1,
	PICKER_SCOPE_ALWAYS = 1 << 2,
};

/* One identity as the dialog shows it. Strings are never NULL except
 * curve; string lists end with NULL. */
struct picker_candidate {
	char *id;
	char *label;
	char *subject;
	char *common_name;
	char *issuer;
	char *issuer_common_name;
	char *serial;
	char *not_before; /* RFC 3339, UTC */
	char *not_after;
	char *sha256_fingerprint;
	char *key_type;
	int64_t key_bits;
	char *curve;
	char **key_usage;
	char **extended_key_usage;
	char **emails;
	char *source_kind;
	char *source;
	bool locked;
	char **chain_subjects;
	bool eligible;
	char **reasons;

	/* Set by picker_request_from_json: the name shown for the identity
	 * and, when another identity has the same name, the serial or a
	 * fingerprint prefix that distinguishes them (else NULL). */
	char *display_name;
	char *distinction;
};

struct picker_request {
	int64_t dialog;

	int64_t requester_pid;
	char *requester_name;
	char *requester_executable;

	char *host;
	int64_t port;
	char *server_organization; /* NULL when unknown */
	char *server_common_name;  /* NULL when unknown */

	bool ca_names_given;
	struct picker_candidate **candidates; /* eligible ones first */
	size_t n_candidates;
	size_t n_eligible;
	/* Identities that certpickd left out of candidates, because the call
	 * could not hold them all. */
	int64_t omitted_eligible;
	int64_t omitted_excluded;
	char *preselected; /* NULL: the first eligible one */
	int64_t timeout;   /* seconds; 0 or less means none */
	char *parent_window;
	unsigned scopes; /* enum picker_scope bits */

	bool retry;
	char *retry_id;
	char *retry_reason;
	int64_t retry_tries_left;
};

/* Reads the parameters of a Choose call, which vl_interface_check has
 * already accepted. Eligible candidates are moved in front of excluded
 * ones, keeping their order. Returns a new request, or NULL with the path
 * of the invalid member in bad[0..bad_size). The rules checked here are
 * those that the IDL cannot express: known scopes, a port in range,
 * unique candidate ids and omitted counts that are not negative. */
struct picker_request *picker_request_from_json(const json_t *parameters,
						char *bad, size_t bad_size);

void picker_request_free(struct picker_request *request);

void picker_candidate_free(struct picker_candidate *candidate);

/* Returns the candidate with this id, or NULL. */
struct picker_candidate *picker_request_find(
	const struct picker_request *request, const char *id);

/* Returns the "host:port" string that the dialog shows, as a new string. */
char *picker_request_server_text(const struct picker_request *request);
