/* The broker's methods other than Select: signing, the store and the
 * matcher over the socket, and remembered decisions. */
#include "broker-internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "base64.h"
#include "log.h"
#include "sigalgs.h"
#include "varlink.h"

/* Sign. */

static void
sign_error(struct cp_call *call, const char *id, const char *reason)
{
	cp_call_agent_error(
		call, "SigningFailed",
		json_pack("{s:s, s:s}", "id", id, "reason", reason));
}

/* Decodes the data or digest member into *input. Returns NULL, or the name
 * of the invalid parameter. */
static const char *
sign_input(json_t *parameters, const struct cp_sigalg *alg, uint8_t **input,
	   size_t *len, bool *is_digest)
{
	const char *data =
		json_string_value(json_object_get(parameters, "data"));
	const char *digest =
		json_string_value(json_object_get(parameters, "digest"));
	const char *text = data ? data : digest;
	const EVP_MD *md;

	*is_digest = digest != NULL;
	if (data && digest)
		return "digest";
	if (!text)
		return "data";
	if (*is_digest && alg->digest_nid == NID_undef)
		return "digest";
	if (cp_base64_decode(text, strlen(text), input, len) < 0)
		return *is_digest ? "digest" : "data";
	if (*is_digest) {
		md = EVP_get_digestbynid(alg->digest_nid);
		if (!md || (size_t)EVP_MD_get_size(md) != *len) {
			OPENSSL_clear_free(*input, *len);
			*input = NULL;
			return "digest";
		}
	}
	return NULL;
}

void
method_sign(struct cp_call *call, json_t *parameters, void *data)
{
	struct client *client = data;
	const char *id = json_string_value(json_object_get(parameters, "id"));
	const char *algorithm =
		json_string_value(json_object_get(parameters, "algorithm"));
	const struct cp_sigalg *alg = cp_sigalg_by_name(algorithm);
	struct cp_identity *identity;
	uint8_t *input = NULL, *signature = NULL;
	size_t input_len = 0, signature_len = 0;
	const char *key_type, *bad;
	bool is_digest;
	char err[300];
	char *text;

	if (!client_granted(client, id)) {
		log_notice("pid %d uid %u may not sign with identity %.64s: "
			   "its connection did not receive it",
			   (int)cp_conn_pid(client->conn),
			   (unsigned)cp_conn_uid(client->conn), id);
		cp_call_agent_error(call, "NotPermitted",
				    json_pack("{s:s}", "id", id));
		return;
	}
	identity = cp_store_find(client->broker->store, id);
	if (!identity) {
		cp_call_agent_error(call, "IdentityNotFound",
				    json_pack("{s:s}", "id", id));
		return;
	}
	key_type = cp_identity_key_type(identity);

	/* For ECDSA only the hash counts (the TLS 1.2 reading), so TLS 1.3
	 * curve binding is left to the client that chose the scheme. */
	if (!alg || !cp_sigalg_fits_key(alg, key_type,
					cp_identity_curve(identity), false)) {
		cp_call_agent_error(call, "AlgorithmNotSupported",
				    json_pack("{s:s, s:s}", "algorithm",
					      algorithm, "key_type", key_type));
		return;
	}
	bad = sign_input(parameters, alg, &input, &input_len, &is_digest);
	if (bad) {
		cp_call_invalid_parameter(call, bad);
		return;
	}

	/* Keys are unlocked during Select, so signing never waits for the
	 * person. */
	if (cp_identity_locked(identity)) {
		OPENSSL_clear_free(input, input_len);
		sign_error(call, id,
			   "the key is locked; select the identity again to "
			   "unlock it");
		return;
	}
	if (cp_identity_sign(identity, alg, input, input_len, is_digest,
			     &signature, &signature_len, err,
			     sizeof(err)) < 0) {
		OPENSSL_clear_free(input, input_len);
		log_warning("signing with identity '%.100s' failed: %s",
			    cp_identity_label(identity), err);
		sign_error(call, id, err);
		return;
	}
	OPENSSL_clear_free(input, input_len);
	text = cp_base64_encode(signature, signature_len);
	free(signature);
	if (!text) {
		sign_error(call, id, "certpickd is out of memory");
		return;
	}
	log_debug("pid %d: signed with identity '%.100s' using %s",
		  (int)cp_conn_pid(client->conn), cp_identity_label(identity),
		  algorithm);
	cp_call_reply(call, json_pack("{s:s}", "signature", text));
	free(text);
}

/* Decisions and their subscribers. */

void
broker_announce_forgotten(const struct cp_decision *decision, void *arg)
{
	struct cp_broker *broker = arg;
	struct watcher *watcher;

	log_info("forgot the decision for %s:%d", decision->host,
		 decision->port);
	LIST_FOREACH(watcher, &broker->watchers, link)
	{
		cp_call_continue(watcher->call,
				 json_pack("{s:s, s:i}", "host", decision->host,
					   "port", decision->port));
	}
}

void
broker_drop_watchers(struct cp_broker *broker, struct client *client)
{
	struct watcher *watcher, *next;

	for (watcher = LIST_FIRST(&broker->watchers); watcher; watcher = next) {
		next = LIST_NEXT(watcher, link);
		if (watcher->client != client)
			continue;
		LIST_REMOVE(watcher, link);
		free(watcher);
	}
}

void
method_report_rejected(struct cp_call *call, json_t *parameters, void *data)
{
	struct client *client = data;
	struct cp_broker *broker = client->broker;
	const char *id = json_string_value(json_object_get(parameters, "id"));
	json_int_t port =
		json_integer_value(json_object_get(parameters, "port"));
	char *host =
		strdup(json_string_value(json_object_get(parameters, "host")));
	char err[300];

	if (!host || !broker_normalize_host(host)) {
		free(host);
		cp_call_invalid_parameter(call, "host");
		return;
	}
	if (port < 1 || port > 65535) {
		free(host);
		cp_call_invalid_parameter(call, "port");
		return;
	}
	log_info("pid %d reports that %s:%d rejected identity %.64s",
		 (int)cp_conn_pid(client->conn), host, (int)port, id);
	if (cp_decisions_forget(broker->decisions, host, (int)port, id,
				broker_announce_forgotten, broker, err,
				sizeof(err)) < 0)
		log_warning("%s", err);
	free(host);
	cp_call_reply(call, NULL);
}

void
method_list_decisions(struct cp_call *call, json_t *parameters, void *data)
{
	struct client *client = data;
	json_t *list = cp_decisions_to_json(client->broker->decisions);

	cp_call_reply(call, json_pack("{s:o}", "decisions", list));
}

struct forget_count {
	struct cp_broker *broker;
	int count;
};

static void
count_forgotten(const struct cp_decision *decision, void *arg)
{
	struct forget_count *counter = arg;

	counter->count++;
	broker_announce_forgotten(decision, counter->broker);
}

void
method_forget_decisions(struct cp_call *call, json_t *parameters, void *data)
{
	struct client *client = data;
	struct cp_broker *broker = client->broker;
	json_t *host_value = json_object_get(parameters, "host");
	json_t *port_value = json_object_get(parameters, "port");
	bool all = json_is_true(json_object_get(parameters, "all"));
	struct forget_count counter = {broker, 0};
	char *host = NULL;
	int port = -1;
	char err[300];

	if (all && json_is_string(host_value)) {
		cp_call_invalid_parameter(call, "all");
		return;
	}
	if (!all && !json_is_string(host_value)) {
		cp_call_invalid_parameter(call, "host");
		return;
	}
	if (json_is_integer(port_value)) {
		json_int_t value = json_integer_value(port_value);

		if (all || value < 1 || value > 65535) {
			cp_call_invalid_parameter(call, "port");
			return;
		}
		port = (int)value;
	}
	if (!all) {
		host = strdup(json_string_value(host_value));
		if (!host || !broker_normalize_host(host)) {
			free(host);
			cp_call_invalid_parameter(call, "host");
			return;
		}
	}
	if (cp_decisions_forget(broker->decisions, host, port, NULL,
				count_forgotten, &counter, err,
				sizeof(err)) < 0)
		log_warning("%s", err);
	log_info("pid %d forgot %d decision%s", (int)cp_conn_pid(client->conn),
		 counter.count, counter.count == 1 ? "" : "s");
	free(host);
	cp_call_reply(call, json_pack("{s:i}", "forgotten", counter.count));
}

void
method_watch_decisions(struct cp_call *call, json_t *parameters, void *data)
{
	struct client *client = data;
	struct watcher *watcher;

	if (!cp_call_more(call)) {
		cp_call_error(call, VL_ERROR_EXPECTED_MORE, NULL);
		return;
	}
	/* Replies go out in call order and a subscription never ends. A
	 * second one on the connection would never get its first reply, so
	 * its messages would pile up in certpickd. */
	LIST_FOREACH(watcher, &client->broker->watchers, link)
	{
		if (watcher->client != client)
			continue;
		cp_call_agent_error(call, "LimitReached",
				    json_pack("{s:s, s:i}", "limit",
					      "subscriptions-per-connection",
					      "max", 1));
		return;
	}
	watcher = calloc(1, sizeof(*watcher));
	if (!watcher) {
		cp_call_agent_error(call, "Cancelled",
				    json_pack("{s:s}", "reason",
					      "certpickd is out of memory"));
		return;
	}
	watcher->client = client;
	watcher->call = call;
	LIST_INSERT_HEAD(&client->broker->watchers, watcher, link);
	cp_call_continue(call, NULL);
}

/* The store and the matcher. */

void
method_list_identities(struct cp_call *call, json_t *parameters, void *data)
{
	struct client *client = data;
	struct cp_store *store = client->broker->store;
	json_t *list = json_array();
	char err[300];

	if (cp_store_refresh(store, err, sizeof(err)) < 0)
		log_warning("cannot reload the identity store: %s", err);
	for (size_t i = 0; list && i < cp_store_count(store); i++)
		if (json_array_append_new(
			    list, cp_identity_to_json(cp_store_get(store, i),
						      CP_JSON_IDENTITY)) < 0) {
			json_decref(list);
			list = NULL;
		}
	cp_call_reply(call, json_pack("{s:o}", "identities", list));
}

void
method_match(struct cp_call *call, json_t *parameters, void *data)
{
	struct client *client = data;
	struct cp_verdict *verdicts = NULL;
	struct server_request server;
	json_t *list;
	const char *bad;
	ssize_t n;

	bad = server_request_parse(&server, parameters, false);
	if (bad) {
		server_request_clear(&server);
		cp_call_invalid_parameter(call, bad);
		return;
	}
	n = broker_match(client->broker, &server, &verdicts);
	list = n >= 0 ? json_array() : NULL;
	for (ssize_t i = 0; list && i < n; i++) {
		json_t *verdict =
			json_pack("{s:o}", "identity",
				  cp_identity_to_json(verdicts[i].identity,
						      CP_JSON_IDENTITY));

		if (!verdict || cp_verdict_add_json(&verdicts[i], verdict) ||
		    json_array_append_new(list, verdict) < 0) {
			json_decref(list);
			list = NULL;
		}
	}
	cp_call_reply(call, json_pack("{s:b, s:o}", "ca_names_given",
				      server.n_ca_names > 0, "verdicts", list));
	free(verdicts);
	server_request_clear(&server);
}
