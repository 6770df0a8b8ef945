/* Fuzz target for certpickd's reading of Agent calls after the Varlink
 * decoder and the IDL check (daemon/broker-request.c): host
 * normalization, base64 CA names into X509_NAMEs, signature scheme names,
 * the TLS version and the server certificate. The input is one call
 * message. What the daemon reads must then work as the daemon uses it. The
 * CA names parse back, and the matcher runs on a store: the test PKI's
 * leaves when $CERTPICK_TEST_PKI is set, else an empty one. The server
 * described for the picker is valid JSON for org.certpick.Picker. */
#include <glob.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>

#include "broker-internal.h"
#include "fuzz-support.h"
#include "interfaces.h"
#include "store.h"
#include "varlink-idl.h"
#include "varlink.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct vl_interface *agent, *picker;
static struct cp_store *store;

/* Imports every leaf of the test PKI into a temporary store. */
static void
open_store(void)
{
	const char *pki = getenv("CERTPICK_TEST_PKI");
	char err[512], pattern[4096], id[CP_IDENTITY_ID_SIZE];
	glob_t leaves = {0};
	bool present;

	if (cp_store_open(fuzz_temp_path("store"), &store, err, sizeof(err)) <
	    0) {
		fprintf(stderr, "%s\n", err);
		abort();
	}
	if (!pki)
		return;
	snprintf(pattern, sizeof(pattern), "%s/leaves/*/bundle.pem", pki);
	if (glob(pattern, 0, NULL, &leaves) != 0)
		return;
	for (size_t i = 0; i < leaves.gl_pathc; i++)
		if (cp_store_import(store, leaves.gl_pathv[i], NULL, id,
				    &present, err, sizeof(err)) < 0)
			fprintf(stderr, "%s\n", err);
	globfree(&leaves);
}

static void
init(void)
{
	if (agent)
		return;
	agent = vl_interface_parse(cp_agent_interface, NULL, 0);
	picker = vl_interface_parse(cp_picker_interface, NULL, 0);
	if (!agent || !picker)
		abort();
	open_store();
}

/* Runs the matcher as Select and Match do and describes every verdict. */
static void
match(const struct server_request *request)
{
	struct cp_broker broker = {.store = store};
	struct cp_verdict *verdicts = NULL;
	ssize_t n = broker_match(&broker, request, &verdicts);

	if (n != (ssize_t)cp_store_count(store))
		abort();
	for (ssize_t i = 0; i < n; i++) {
		json_t *object = cp_identity_to_json(verdicts[i].identity,
						     CP_JSON_CANDIDATE);

		if (!object || cp_verdict_add_json(&verdicts[i], object) < 0)
			abort();
		json_decref(object);
	}
	free(verdicts);
}

/* Checks that every CA name kept parses back, one by one. */
static void
check_ca_names(const struct server_request *request)
{
	STACK_OF(X509_NAME) *names = NULL;

	if (server_request_ca_names(request, &names) < 0)
		abort();
	if ((names ? (size_t)sk_X509_NAME_num(names) : 0) !=
	    request->n_ca_names)
		abort();
	sk_X509_NAME_pop_free(names, X509_NAME_free);
}

/* Builds the Server member of the picker's Choose call as certpickd does,
 * which must succeed and fit org.certpick.Picker. */
static void
check_server_for_picker(const struct server_request *request,
			const struct server_names *names)
{
	json_t *server = json_pack("{s:s, s:i, s:s?, s:s?}", "host",
				   request->host, "port", request->port,
				   "organization", names->organization,
				   "common_name", names->common_name);
	json_t *choose;
	char bad[128] = "";

	if (!server) {
		fprintf(stderr, "the server's names are not valid JSON "
				"strings\n");
		abort();
	}
	/* A Choose call without candidates carries the Server. */
	choose = json_pack("{s:i, s:{s:i, s:s, s:s}, s:o, s:b, s:[], s:n, "
			   "s:i, s:n, s:[s], s:n}",
			   "dialog", 1, "requester", "pid", 1, "name", "fuzz",
			   "executable", "", "server", server, "ca_names_given",
			   0, "candidates", "preselected", "timeout", 1,
			   "parent_window", "remember_scopes", "once", "retry");
	if (!choose || vl_interface_check(picker, VL_CHECK_INPUT, "Choose",
					  choose, bad, sizeof(bad)) < 0) {
		fprintf(stderr, "the Choose call fails its check at %s\n", bad);
		abort();
	}
	json_decref(choose);
}

static void
run_select(json_t *parameters, bool select)
{
	struct server_request request;
	struct server_names names = {0};
	const char *bad = server_request_parse(&request, parameters, select);
	char *key;

	if (bad) {
		server_request_clear(&request);
		return;
	}
	check_ca_names(&request);
	match(&request);
	if (select) {
		key = broker_dialog_key(&request);
		if (!key || strlen(key) != 64)
			abort();
		free(key);
		if (broker_parse_server_certificate(
			    json_object_get(parameters, "server_certificate"),
			    &names) == 0)
			check_server_for_picker(&request, &names);
		free(names.organization);
		free(names.common_name);
	}
	server_request_clear(&request);
}

/* ReportRejected and ForgetDecisions normalize their host. */
static void
run_host(json_t *parameters)
{
	const char *text =
		json_string_value(json_object_get(parameters, "host"));
	char *host, *again;

	if (!text)
		return;
	host = strdup(text);
	if (host && broker_normalize_host(host)) {
		again = strdup(host);
		if (!again || !broker_normalize_host(again) ||
		    strcmp(again, host) != 0)
			abort(); /* a normalized host changes again */
		free(again);
	}
	free(host);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct vl_call call;
	const char *method;
	json_t *message;
	char bad[128];

	init();
	if (vl_message_decode((const char *)data, size, &message) != VL_OK)
		return 0;
	if (vl_message_to_call(message, &call) != VL_OK ||
	    strncmp(call.method, "org.certpick.Agent.", 19) != 0) {
		json_decref(message);
		return 0;
	}
	method = call.method + 19;
	if (vl_interface_check(agent, VL_CHECK_INPUT, method, call.parameters,
			       bad, sizeof(bad)) == 0) {
		if (strcmp(method, "Select") == 0)
			run_select(call.parameters, true);
		else if (strcmp(method, "Match") == 0)
			run_select(call.parameters, false);
		else if (strcmp(method, "ReportRejected") == 0 ||
			 strcmp(method, "ForgetDecisions") == 0)
			run_host(call.parameters);
	}
	json_decref(message);
	ERR_clear_error();
	return 0;
}
