/* The broker's connections and grants, and the Select flow up to the
 * dialog queue: remembered decisions, then the policy. */
#include "broker-internal.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/x509.h>

#include "daemon-limits.h"
#include "log.h"

/* Connections and grants. */

void *
cp_broker_conn_open(struct cp_conn *conn, void *arg)
{
	struct cp_broker *broker = arg;
	struct client *client = calloc(1, sizeof(*client));

	if (!client)
		return NULL;
	client->broker = broker;
	client->conn = conn;
	LIST_INSERT_HEAD(&broker->clients, client, link);
	return client;
}

void
cp_broker_conn_close(struct cp_conn *conn, void *data, void *arg)
{
	struct client *client = data;

	broker_client_gone(client);
	LIST_REMOVE(client, link);
	for (size_t i = 0; i < client->n_granted; i++)
		free(client->granted[i]);
	free(client->granted);
	free(client);
}

bool
client_granted(const struct client *client, const char *id)
{
	for (size_t i = 0; i < client->n_granted; i++)
		if (strcmp(client->granted[i], id) == 0)
			return true;
	return false;
}

int
client_grant(struct client *client, const char *id)
{
	char **grown, *copy;

	if (client_granted(client, id))
		return 0;
	grown = realloc(client->granted,
			(client->n_granted + 1) * sizeof(*grown));
	if (!grown)
		return -1;
	client->granted = grown;
	copy = strdup(id);
	if (!copy)
		return -1;
	client->granted[client->n_granted++] = copy;
	return 0;
}

/* Answers. */

/* Sends the identity to the requester of call and lets its connection sign
 * with it. The chain comes from the identity, which encodes it once. */
void
broker_answer_identity(struct client *client, struct cp_call *call,
		       struct cp_identity *identity, const char *decided_by)
{
	json_t *chain = cp_identity_chain_json(identity);

	if (!chain || client_grant(client, cp_identity_id(identity)) < 0) {
		cp_call_agent_error(call, "Cancelled",
				    json_pack("{s:s}", "reason",
					      "certpickd is out of memory"));
		return;
	}
	cp_call_reply(call,
		      json_pack("{s:s, s:s, s:O, s:s, s:s}", "id",
				cp_identity_id(identity), "label",
				cp_identity_label(identity), "chain", chain,
				"key_type", cp_identity_key_type(identity),
				"decided_by", decided_by));
}

void
broker_answer_no_certificate(struct cp_call *call, const char *reason)
{
	cp_call_agent_error(call, "NoCertificate",
			    json_pack("{s:s}", "reason", reason));
}

const struct cp_verdict *
broker_find_verdict(const struct cp_verdict *verdicts, ssize_t n,
		    const char *id)
{
	for (ssize_t i = 0; i < n; i++)
		if (strcmp(cp_identity_id(verdicts[i].identity), id) == 0)
			return &verdicts[i];
	return NULL;
}

static void
describe_reasons(unsigned reasons, char *buffer, size_t size)
{
	size_t len = 0;

	buffer[0] = '\0';
	for (int i = 0; i < CP_REASON_COUNT; i++) {
		const char *code = cp_reason_code(1u << i);

		if ((reasons & (1u << i)) && code && len < size)
			len += (size_t)snprintf(buffer + len, size - len,
						"%s%s", len ? ", " : "", code);
	}
}

/* Settles the Select with a remembered decision when one applies. Returns
 * true after replying. Otherwise *preselected may name the remembered
 * identity, whose key still needs its passphrase. */
static bool
try_decision(struct client *client, struct cp_call *call,
	     const struct server_request *server,
	     const struct cp_verdict *verdicts, ssize_t n,
	     const char **preselected)
{
	const struct cp_decision *decision = cp_decisions_find(
		client->broker->decisions, server->host, server->port);
	const struct cp_verdict *verdict;
	char reasons[200];

	if (!decision)
		return false;
	if (!decision->id) {
		log_debug("pid %d: %s:%d: no certificate, as decided for the "
			  "session",
			  (int)cp_conn_pid(client->conn), server->host,
			  server->port);
		broker_answer_no_certificate(call, "declined");
		return true;
	}
	verdict = broker_find_verdict(verdicts, n, decision->id);
	if (verdict && verdict->reasons == 0) {
		if (cp_identity_locked(verdict->identity)) {
			*preselected = decision->id;
			return false;
		}
		log_debug("pid %d: %s:%d: identity '%.100s', as remembered",
			  (int)cp_conn_pid(client->conn), server->host,
			  server->port, decision->label);
		broker_answer_identity(client, call, verdict->identity,
				       "decision");
		return true;
	}
	if (verdict)
		describe_reasons(verdict->reasons, reasons, sizeof(reasons));
	log_info("ignoring the decision for %s:%d: identity '%.100s' %s%s%s; "
		 "asking the person",
		 server->host, server->port, decision->label,
		 verdict ? "is not eligible (" : "is no longer in the store",
		 verdict ? reasons : "", verdict ? ")" : "");
	return false;
}

/* Settles the Select with a remembered identity that is unlocked and
 * still eligible, judging only that identity, where try_decision needs
 * the verdicts on the whole store, which can hold thousands. Returns true
 * after replying; every other case is left to try_decision, which logs
 * why a decision does not apply. */
static bool
try_decision_alone(struct client *client, struct cp_call *call,
		   const struct server_request *server)
{
	struct cp_broker *broker = client->broker;
	const struct cp_decision *decision = cp_decisions_find(
		broker->decisions, server->host, server->port);
	struct cp_identity *identity;

	if (!decision || !decision->id)
		return false;
	identity = cp_store_find(broker->store, decision->id);
	if (!identity || cp_identity_locked(identity) ||
	    !broker_identity_eligible(broker, server, identity))
		return false;
	log_debug("pid %d: %s:%d: identity '%.100s', as remembered",
		  (int)cp_conn_pid(client->conn), server->host, server->port,
		  decision->label);
	broker_answer_identity(client, call, identity, "decision");
	return true;
}

/* Settles the Select with the auto-select policy when exactly one eligible
 * identity fits it. Returns true after replying. Otherwise *preselected
 * may name an identity that fits. */
static bool
try_policy(struct client *client, struct cp_call *call,
	   const struct server_request *server,
	   const struct cp_verdict *verdicts, ssize_t n,
	   const char **preselected)
{
	struct cp_broker *broker = client->broker;
	struct cp_conn *conn = client->conn;
	struct cp_identity *fit = NULL;
	int fits = 0;

	if (!cp_policy_applies(broker->policy, server->host, server->port))
		return false;
	for (ssize_t i = 0; i < n && verdicts[i].reasons == 0; i++) {
		if (!cp_policy_fits(broker->policy, server->host, server->port,
				    cp_identity_leaf(verdicts[i].identity)))
			continue;
		if (fits++ == 0)
			fit = verdicts[i].identity;
	}
	if (fits == 1 && !cp_identity_locked(fit)) {
		log_notice("policy selected identity '%.100s' for %s:%d, "
			   "requested by pid %d uid %u (%.100s)",
			   cp_identity_label(fit), server->host, server->port,
			   (int)cp_conn_pid(conn), (unsigned)cp_conn_uid(conn),
			   cp_conn_command(conn));
		broker_answer_identity(client, call, fit, "policy");
		return true;
	}
	log_info("policy for %s:%d fits %d eligible identities%s, requested "
		 "by pid %d uid %u (%.100s); asking the person",
		 server->host, server->port, fits,
		 fits == 1 ? " (its key is locked)" : "",
		 (int)cp_conn_pid(conn), (unsigned)cp_conn_uid(conn),
		 cp_conn_command(conn));
	if (fit && !*preselected)
		*preselected = cp_identity_id(fit);
	return false;
}

/* Returns true for a parent window handle in one of the forms of
 * xdg-desktop-portal. "x11:XID" takes a hexadecimal XID from 1 to
 * 0xffffffff, because X11 resource ids have 32 bits and 0 is None.
 * "wayland:HANDLE" takes an xdg-foreign handle, which is printable ASCII.
 * The picker logs a handle it cannot use, so anything else is rejected
 * here. */
static bool
valid_parent_window(const char *window)
{
	unsigned long long xid;
	const char *p;

	if (strlen(window) > CP_PARENT_WINDOW_MAX)
		return false;
	if (strncmp(window, "x11:", 4) == 0) {
		p = window + 4;
		if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X'))
			p += 2;
		if (!*p)
			return false;
		for (const char *digit = p; *digit; digit++)
			if (!isxdigit((unsigned char)*digit))
				return false;
		/* A value past ULLONG_MAX comes back as ULLONG_MAX. */
		xid = strtoull(p, NULL, 16);
		return xid >= 1 && xid <= 0xffffffffULL;
	}
	if (strncmp(window, "wayland:", 8) == 0) {
		p = window + 8;
		if (!*p)
			return false;
		for (; *p; p++)
			if (*p <= ' ' || *p > '~')
				return false;
		return true;
	}
	return false;
}

void
method_select(struct cp_call *call, json_t *parameters, void *data)
{
	struct client *client = data;
	struct cp_broker *broker = client->broker;
	const char *window =
		json_string_value(json_object_get(parameters, "parent_window"));
	struct cp_verdict *verdicts = NULL;
	const char *preselected = NULL, *bad;
	struct server_request server;
	struct server_names names = {0};
	bool answered = false;
	ssize_t n;

	if (client->select) {
		cp_call_agent_error(call, "LimitReached",
				    json_pack("{s:s, s:i}", "limit",
					      "selects-per-connection", "max",
					      CP_SELECTS_PER_CONNECTION_MAX));
		return;
	}
	bad = server_request_parse(&server, parameters, true);
	if (!bad && window && !valid_parent_window(window))
		bad = "parent_window";
	if (!bad &&
	    broker_read_server_certificate(
		    broker, json_object_get(parameters, "server_certificate"),
		    &names) < 0)
		bad = "server_certificate";
	if (bad) {
		server_request_clear(&server);
		cp_call_invalid_parameter(call, bad);
		return;
	}

	broker_refresh_store(broker);
	if (try_decision_alone(client, call, &server)) {
		server_request_clear(&server);
		free(names.organization);
		free(names.common_name);
		return;
	}
	n = broker_match_loaded(broker, &server, &verdicts);
	server_request_drop_parsed(&server);
	if (n >= 0) {
		/* A remembered identity whose key is locked goes to the
		 * picker for its passphrase, before the policy could pick
		 * another. */
		answered =
			try_decision(client, call, &server, verdicts, n,
				     &preselected) ||
			(!preselected && try_policy(client, call, &server,
						    verdicts, n, &preselected));
	}
	if (n < 0) {
		cp_call_agent_error(call, "Cancelled",
				    json_pack("{s:s}", "reason",
					      "certpickd is out of memory"));
		answered = true;
	} else if (!answered && (n == 0 || verdicts[0].reasons != 0)) {
		log_info("no identity is eligible for %s:%d, requested by "
			 "pid %d",
			 server.host, server.port,
			 (int)cp_conn_pid(client->conn));
		broker_answer_no_certificate(call, "none-eligible");
		answered = true;
	}
	if (answered) {
		free(verdicts);
		server_request_clear(&server);
		free(names.organization);
		free(names.common_name);
		return;
	}

	/* preselected points into the decisions or the store, which do not
	 * change before enqueue copies it. */
	broker_ask_person(client, call, &server, &names, window, preselected);
	free(verdicts);
}

/* The broker's life. */

struct cp_broker *
cp_broker_new(const struct cp_broker_config *config)
{
	struct cp_broker *broker = calloc(1, sizeof(*broker));

	if (!broker)
		return NULL;
	broker->base = config->base;
	broker->store = config->store;
	broker->decisions = config->decisions;
	broker->policy = config->policy;
	broker->picker = config->picker;
	broker->timeout_seconds = config->timeout_seconds;
	TAILQ_INIT(&broker->dialogs);
	LIST_INIT(&broker->clients);
	LIST_INIT(&broker->watchers);
	return broker;
}

void
cp_broker_shutdown(struct cp_broker *broker)
{
	struct watcher *watcher;

	broker->stopping = true;
	broker_cancel_dialogs(broker, "certpickd is stopping");
	while ((watcher = LIST_FIRST(&broker->watchers))) {
		LIST_REMOVE(watcher, link);
		cp_call_agent_error(
			watcher->call, "Cancelled",
			json_pack("{s:s}", "reason", "certpickd is stopping"));
		free(watcher);
	}
}

void
cp_broker_free(struct cp_broker *broker)
{
	if (!broker)
		return;
	broker_forget_server_certificates(broker);
	free(broker);
}

const struct cp_method cp_broker_methods[] = {
	{"Select", method_select},
	{"Sign", method_sign},
	{"ReportRejected", method_report_rejected},
	{"ListIdentities", method_list_identities},
	{"Match", method_match},
	{"ListDecisions", method_list_decisions},
	{"ForgetDecisions", method_forget_decisions},
	{"WatchDecisions", method_watch_decisions},
};

const size_t cp_broker_method_count =
	sizeof(cp_broker_methods) / sizeof(cp_broker_methods[0]);
