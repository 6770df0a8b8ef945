/* The dialog queue: requests that wait for the person, one dialog at a
 * time in the picker, identical requests sharing a dialog, passphrase
 * retries, timeouts and withdrawal. */
#include "broker-internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "daemon-limits.h"
#include "log.h"
#include "text.h"

/* One Select waiting for the person. */
struct request {
	struct client *client;
	struct cp_call *call;
	struct dialog *dialog;
	struct server_request server;
	struct server_names names;
	char *parent_window;
	struct event *timer;
	time_t deadline; /* CLOCK_MONOTONIC seconds */
	TAILQ_ENTRY(request) link;
};

/* A dialog: the requests that one answer of the person serves. They share
 * the server, its CA names and its signature schemes. */
struct dialog {
	char *key;
	char *preselected;
	long number; /* 0 until shown */
	int wrong_passphrases;
	char *retry_id; /* set while asking for the passphrase again */
	int retry_tries_left;
	struct cp_picker_call *choose;
	TAILQ_HEAD(, request) requests;
	TAILQ_ENTRY(dialog) link;
};

static void pump(struct cp_broker *broker);

static time_t
monotonic_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec;
}

/* Dialogs. */

static void
request_free(struct request *request)
{
	struct cp_broker *broker = request->client->broker;

	if (request->dialog) {
		TAILQ_REMOVE(&request->dialog->requests, request, link);
		broker->queued--;
	}
	request->client->select = NULL;
	if (request->timer)
		event_free(request->timer);
	server_request_clear(&request->server);
	free(request->names.organization);
	free(request->names.common_name);
	free(request->parent_window);
	free(request);
}

static void
dialog_free(struct cp_broker *broker, struct dialog *dialog)
{
	struct request *request;

	while ((request = TAILQ_FIRST(&dialog->requests)))
		request_free(request);
	TAILQ_REMOVE(&broker->dialogs, dialog, link);
	if (broker->showing == dialog)
		broker->showing = NULL;
	cp_picker_call_forget(dialog->choose);
	free(dialog->key);
	free(dialog->preselected);
	free(dialog->retry_id);
	free(dialog);
}

static void
close_dialog(struct cp_broker *broker, struct dialog *dialog,
	     const char *reason)
{
	if (dialog->number == 0 || !cp_picker_running(broker->picker))
		return;
	cp_picker_call(broker->picker, "Close",
		       json_pack("{s:I, s:s}", "dialog",
				 (json_int_t)dialog->number, "reason", reason),
		       NULL, NULL);
}

/* Answers every request of the dialog with an error, closes the dialog in
 * the picker when close_reason is set, and shows the next one. */
static void
fail_dialog(struct cp_broker *broker, struct dialog *dialog, const char *error,
	    json_t *parameters, const char *close_reason)
{
	struct request *request;

	while ((request = TAILQ_FIRST(&dialog->requests))) {
		cp_call_agent_error(request->call, error,
				    json_incref(parameters));
		request_free(request);
	}
	json_decref(parameters);
	if (close_reason)
		close_dialog(broker, dialog, close_reason);
	dialog_free(broker, dialog);
	pump(broker);
}

static json_t *
requester_json(struct client *client)
{
	struct cp_conn *conn = client->conn;

	return json_pack("{s:i, s:s, s:s}", "pid", (int)cp_conn_pid(conn),
			 "name", cp_conn_command(conn), "executable",
			 cp_conn_executable(conn));
}

/* Bytes of a Choose call outside its parameters object, and of the
 * omitted_eligible and omitted_excluded members that are added to it after
 * it is measured: 54 for the method member and the braces, at most 40 for
 * each count. */
#define CHOOSE_ENVELOPE_BYTES 160

/* The identities that one Choose call lists, and the number left out. */
struct choose_candidates {
	json_t *list;
	size_t omitted_eligible;
	size_t omitted_excluded;
};

/* Returns the bytes of value in a message, as vl_message_encode writes
 * it. */
static size_t
encoded_size(const json_t *value)
{
	return json_dumpb(value, NULL, 0, JSON_COMPACT);
}

static json_t *
candidate_json(const struct cp_verdict *verdict)
{
	json_t *candidate =
		cp_identity_to_json(verdict->identity, CP_JSON_CANDIDATE);

	if (candidate && cp_verdict_add_json(verdict, candidate) < 0) {
		json_decref(candidate);
		return NULL;
	}
	return candidate;
}

/* Lists the verdicts as candidates in their order (eligible ones best
 * first, then the excluded ones) until the next one would take the list
 * past budget bytes, and counts the rest as omitted. So excluded identities
 * are left out first, then the lowest-ranked eligible ones. The preselected
 * identity is listed wherever it ranks, because its bytes are set aside
 * first. An identity larger than the whole budget (its certificate can
 * take up to CP_STORE_FILE_MAX) is left out without ending the list.
 * NOTE: no test builds such an identity. Returns 0, or -1 when out of
 * memory. */
static int
list_candidates(const struct cp_verdict *verdicts, ssize_t n,
		const char *preselected, size_t budget,
		struct choose_candidates *out)
{
	const struct cp_verdict *kept =
		preselected ? broker_find_verdict(verdicts, n, preselected)
			    : NULL;
	json_t *kept_json = kept ? candidate_json(kept) : NULL;
	size_t used = kept_json ? encoded_size(kept_json) + 1 : 0;
	bool full = false;

	out->list = json_array();
	if (!out->list || (kept && !kept_json))
		goto fail;
	if (used > budget) {
		json_decref(kept_json);
		kept_json = NULL;
		kept = NULL;
		used = 0;
	}
	for (ssize_t i = 0; i < n; i++) {
		json_t *candidate = NULL;
		size_t size = 0;

		if (&verdicts[i] == kept) {
			candidate = kept_json;
			kept_json = NULL;
		} else if (!full) {
			candidate = candidate_json(&verdicts[i]);
			if (!candidate)
				goto fail;
			size = encoded_size(candidate) + 1;
			if (used + size > budget) {
				full = size <= budget;
				json_decref(candidate);
				candidate = NULL;
			}
		}
		if (!candidate) {
			if (verdicts[i].reasons == 0)
				out->omitted_eligible++;
			else
				out->omitted_excluded++;
			continue;
		}
		if (json_array_append_new(out->list, candidate) < 0)
			goto fail;
		used += size;
	}
	return 0;

fail:
	json_decref(kept_json);
	json_decref(out->list);
	out->list = NULL;
	return -1;
}

/* Sets the candidates of a Choose call whose other parameters are final,
 * keeping the whole call within CP_CHOOSE_CALL_MAX bytes. Returns 0, or -1
 * when out of memory. */
static int
add_candidates(struct cp_broker *broker, struct dialog *dialog,
	       json_t *parameters)
{
	const struct server_request *server =
		&TAILQ_FIRST(&dialog->requests)->server;
	size_t rest = encoded_size(parameters) + CHOOSE_ENVELOPE_BYTES;
	size_t budget =
		rest < CP_CHOOSE_CALL_MAX ? CP_CHOOSE_CALL_MAX - rest : 0;
	struct choose_candidates candidates = {0};
	struct cp_verdict *verdicts = NULL;
	ssize_t n = broker_match(broker, server, &verdicts);
	int r = -1;

	if (n < 0 || list_candidates(verdicts, n, dialog->preselected, budget,
				     &candidates) < 0)
		goto out;
	if (json_object_set_new(parameters, "candidates", candidates.list) < 0)
		goto out;
	if (candidates.omitted_eligible + candidates.omitted_excluded == 0) {
		r = 0;
		goto out;
	}
	log_info("dialog %ld for %s:%d lists %zu of %zd identities and leaves "
		 "out %zu eligible and %zu excluded ones, because a call to "
		 "the picker is limited to %d KiB",
		 dialog->number, server->host, server->port,
		 json_array_size(candidates.list), n,
		 candidates.omitted_eligible, candidates.omitted_excluded,
		 CP_CHOOSE_CALL_MAX / 1024);
	/* Only a call that leaves something out carries the counts, so that
	 * a picker written before they existed still accepts the others. */
	r = json_object_update_new(
		parameters, json_pack("{s:I, s:I}", "omitted_eligible",
				      (json_int_t)candidates.omitted_eligible,
				      "omitted_excluded",
				      (json_int_t)candidates.omitted_excluded));

out:
	free(verdicts);
	return r;
}

static json_t *
choose_parameters(struct cp_broker *broker, struct dialog *dialog)
{
	struct request *first = TAILQ_FIRST(&dialog->requests), *request;
	time_t now = monotonic_seconds(), latest = now + 1;
	json_t *server, *parameters;

	TAILQ_FOREACH(request, &dialog->requests, link)
	{
		if (request->deadline > latest)
			latest = request->deadline;
	}

	server = json_pack("{s:s, s:i, s:s?, s:s?}", "host", first->server.host,
			   "port", first->server.port, "organization",
			   first->names.organization, "common_name",
			   first->names.common_name);
	parameters = json_pack(
		"{s:I, s:o, s:o, s:b, s:[], s:s?, s:I, s:s?, s:[sss]}",
		"dialog", (json_int_t)dialog->number, "requester",
		requester_json(first->client), "server", server,
		"ca_names_given", first->server.n_ca_names > 0, "candidates",
		"preselected", dialog->preselected, "timeout",
		(json_int_t)(latest - now), "parent_window",
		first->parent_window, "remember_scopes", "once", "session",
		"always");
	if (parameters && dialog->retry_id &&
	    json_object_set_new(parameters, "retry",
				json_pack("{s:s, s:s, s:i}", "id",
					  dialog->retry_id, "reason",
					  "wrong-passphrase", "tries_left",
					  dialog->retry_tries_left)) < 0) {
		json_decref(parameters);
		return NULL;
	}
	if (parameters && add_candidates(broker, dialog, parameters) < 0) {
		json_decref(parameters);
		return NULL;
	}
	return parameters;
}

static void choose_done(const struct cp_picker_result *result, void *arg);

static void
show_dialog(struct cp_broker *broker, struct dialog *dialog)
{
	json_t *parameters;

	if (dialog->number == 0)
		dialog->number = (long)++broker->dialogs_shown;
	broker->showing = dialog;
	parameters = choose_parameters(broker, dialog);
	dialog->choose =
		parameters ? cp_picker_call(broker->picker, "Choose",
					    parameters, choose_done, dialog)
			   : NULL;
	if (!dialog->choose) {
		log_error("cannot show dialog %ld: out of memory",
			  dialog->number);
		fail_dialog(broker, dialog, "PickerFailed",
			    json_pack("{s:s}", "reason",
				      "certpickd is out of memory"),
			    NULL);
		return;
	}
	log_debug("showing dialog %ld for %s:%d", dialog->number,
		  TAILQ_FIRST(&dialog->requests)->server.host,
		  TAILQ_FIRST(&dialog->requests)->server.port);
}

/* Shows the next dialog when none is showing, or lets the picker idle. */
static void
pump(struct cp_broker *broker)
{
	struct dialog *next = TAILQ_FIRST(&broker->dialogs);

	if (broker->showing || broker->stopping)
		return;
	if (next)
		show_dialog(broker, next);
	else
		cp_picker_set_idle(broker->picker);
}

/* Fails every dialog, shown or queued, because the picker failed. */
static void
picker_failed(struct cp_broker *broker, const char *reason)
{
	struct dialog *dialog;

	/* No dialog is shown until the queue is empty, so that the next
	 * Select starts a fresh picker rather than the queue restarting a
	 * crashing one. */
	broker->stopping = true;
	while ((dialog = TAILQ_FIRST(&broker->dialogs)))
		fail_dialog(broker, dialog, "PickerFailed",
			    json_pack("{s:s}", "reason", reason), NULL);
	broker->stopping = false;
}

static enum cp_decision_scope
remember_scope(const char *remember, bool *remember_it)
{
	*remember_it = true;
	if (strcmp(remember, "always") == 0)
		return CP_SCOPE_ALWAYS;
	if (strcmp(remember, "session") == 0)
		return CP_SCOPE_SESSION;
	if (strcmp(remember, "once") != 0)
		log_warning("the picker sent remember '%.20s'; treating it as "
			    "'once'",
			    remember);
	*remember_it = false;
	return CP_SCOPE_SESSION;
}

static void
remember(struct cp_broker *broker, struct dialog *dialog,
	 struct cp_identity *identity, const char *scope_name)
{
	const struct server_request *server =
		&TAILQ_FIRST(&dialog->requests)->server;
	enum cp_decision_scope scope;
	bool remember_it;
	char err[300];

	scope = remember_scope(scope_name, &remember_it);
	if (!remember_it)
		return;
	if (!identity && scope == CP_SCOPE_ALWAYS)
		log_info("remembering 'no certificate' for %s:%d for this "
			 "session only, not always",
			 server->host, server->port);
	if (cp_decisions_set(broker->decisions, server->host, server->port,
			     identity ? cp_identity_id(identity) : NULL,
			     identity ? cp_identity_label(identity) : NULL,
			     scope, err, sizeof(err)) < 0)
		log_warning("%s; the decision for %s:%d lasts for this "
			    "session only",
			    err, server->host, server->port);
}

/* Unlocks a locked identity with the passphrase from the picker. Returns 1
 * when it can be used, 0 when the dialog asks again, and -1 when the
 * dialog was failed. */
static int
unlock(struct cp_broker *broker, struct dialog *dialog,
       struct cp_identity *identity, const char *passphrase)
{
	char err[300];
	int tries_left = -1;
	int r;

	if (!cp_identity_locked(identity))
		return 1;
	r = cp_identity_unlock(identity, passphrase ? passphrase : "",
			       &tries_left, err, sizeof(err));
	if (r == 0) {
		log_info("unlocked identity '%.100s'",
			 cp_identity_label(identity));
		return 1;
	}
	if (r < 0) {
		log_warning("cannot unlock identity '%.100s': %s",
			    cp_identity_label(identity), err);
		fail_dialog(broker, dialog, "Cancelled",
			    json_pack("{s:s}", "reason",
				      "the key cannot be unlocked"),
			    "failed");
		return -1;
	}

	dialog->wrong_passphrases++;
	if (tries_left < 0)
		tries_left =
			CP_PASSPHRASE_TRIES_MAX - dialog->wrong_passphrases;
	log_notice("wrong passphrase for identity '%.100s'; tries left: %d",
		   cp_identity_label(identity), tries_left);
	if (tries_left <= 0) {
		fail_dialog(broker, dialog, "Cancelled",
			    json_pack("{s:s}", "reason",
				      "wrong passphrase entered too often"),
			    "failed");
		return -1;
	}
	free(dialog->retry_id);
	free(dialog->preselected);
	dialog->retry_id = strdup(cp_identity_id(identity));
	dialog->preselected = strdup(cp_identity_id(identity));
	dialog->retry_tries_left = tries_left;
	show_dialog(broker, dialog);
	return 0;
}

/* Handles the person's choice of an identity (id) or of none (NULL). */
static void
chosen(struct cp_broker *broker, struct dialog *dialog, const char *id,
       const char *scope, const char *passphrase)
{
	const struct server_request *server =
		&TAILQ_FIRST(&dialog->requests)->server;
	struct cp_verdict *verdicts = NULL;
	const struct cp_verdict *verdict;
	struct request *request;
	ssize_t n;

	if (!id) {
		remember(broker, dialog, NULL, scope);
		while ((request = TAILQ_FIRST(&dialog->requests))) {
			broker_answer_no_certificate(request->call, "declined");
			request_free(request);
		}
		close_dialog(broker, dialog, "answered");
		dialog_free(broker, dialog);
		pump(broker);
		return;
	}

	n = broker_match(broker, server, &verdicts);
	verdict = broker_find_verdict(verdicts, n, id);
	if (!verdict || verdict->reasons != 0) {
		free(verdicts);
		log_warning("the picker chose identity %.64s, which is not "
			    "eligible for %s:%d",
			    id, server->host, server->port);
		fail_dialog(broker, dialog, "PickerFailed",
			    json_pack("{s:s}", "reason",
				      "the picker chose an identity that is "
				      "not eligible"),
			    "failed");
		return;
	}
	if (unlock(broker, dialog, verdict->identity, passphrase) <= 0) {
		free(verdicts);
		return;
	}
	remember(broker, dialog, verdict->identity, scope);
	while ((request = TAILQ_FIRST(&dialog->requests))) {
		broker_answer_identity(request->client, request->call,
				       verdict->identity, "picker");
		request_free(request);
	}
	free(verdicts);
	close_dialog(broker, dialog, "answered");
	dialog_free(broker, dialog);
	pump(broker);
}

static void
choose_done(const struct cp_picker_result *result, void *arg)
{
	struct dialog *dialog = arg;
	struct cp_broker *broker =
		TAILQ_FIRST(&dialog->requests)->client->broker;
	json_t *p = result->parameters;
	char reason[400];

	dialog->choose = NULL;
	if (result->failure) {
		picker_failed(broker, result->failure);
		return;
	}
	if (!result->error) {
		chosen(broker, dialog,
		       json_string_value(json_object_get(p, "id")),
		       json_string_value(json_object_get(p, "remember")),
		       json_string_value(json_object_get(p, "passphrase")));
		return;
	}
	if (strcmp(result->error, "org.certpick.Picker.Dismissed") == 0) {
		log_info("dialog %ld dismissed", dialog->number);
		fail_dialog(broker, dialog, "Cancelled",
			    json_pack("{s:s}", "reason", "dismissed"), NULL);
		return;
	}
	if (strcmp(result->error, "org.certpick.Picker.DisplayUnavailable") ==
	    0)
		snprintf(reason, sizeof(reason),
			 "no display: %.200s; restart certpickd with DISPLAY "
			 "or WAYLAND_DISPLAY set, because the picker inherits "
			 "its environment",
			 json_string_value(json_object_get(p, "reason")));
	else
		snprintf(reason, sizeof(reason),
			 "the picker answered Choose with %.200s",
			 result->error);
	/* %.200s may cut the picker's text inside a character, and the
	 * reason goes to the client as a JSON string. */
	cp_text_clean(reason);
	log_warning("dialog %ld failed: %s", dialog->number, reason);
	fail_dialog(broker, dialog, "PickerFailed",
		    json_pack("{s:s}", "reason", reason), "failed");
}

/* Removes a request that ended without an answer from the person. A dialog
 * left without requests is closed with close_reason. */
static void
withdraw_request(struct request *request, const char *close_reason)
{
	struct cp_broker *broker = request->client->broker;
	struct dialog *dialog = request->dialog;

	request_free(request);
	if (!TAILQ_EMPTY(&dialog->requests))
		return;
	if (broker->showing == dialog) {
		log_debug("closing dialog %ld: %s", dialog->number,
			  close_reason);
		close_dialog(broker, dialog, close_reason);
	}
	dialog_free(broker, dialog);
	pump(broker);
}

static void
request_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	struct request *request = arg;
	struct cp_broker *broker = request->client->broker;
	struct cp_conn *conn = request->client->conn;

	log_info("request of pid %d for %s:%d timed out after %d seconds",
		 (int)cp_conn_pid(conn), request->server.host,
		 request->server.port, broker->timeout_seconds);
	cp_call_agent_error(
		request->call, "TimedOut",
		json_pack("{s:i}", "seconds", broker->timeout_seconds));
	withdraw_request(request, "timed-out");
}

void
broker_client_gone(struct client *client)
{
	if (client->select) {
		log_info("pid %d disconnected; withdrawing its request for "
			 "%s:%d",
			 (int)cp_conn_pid(client->conn),
			 client->select->server.host,
			 client->select->server.port);
		withdraw_request(client->select, "withdrawn");
	}
	broker_drop_watchers(client->broker, client);
}

/* Queues the request in the dialog for its key, creating the dialog at
 * the end of the queue when there is none. */
static int
enqueue(struct cp_broker *broker, struct request *request,
	const char *preselected)
{
	char *key = broker_dialog_key(&request->server);
	struct timeval timeout = {broker->timeout_seconds, 0};
	struct dialog *dialog;

	if (!key)
		return -1;
	TAILQ_FOREACH(dialog, &broker->dialogs, link)
	{
		if (strcmp(dialog->key, key) == 0)
			break;
	}
	if (dialog) {
		free(key);
	} else {
		dialog = calloc(1, sizeof(*dialog));
		if (!dialog) {
			free(key);
			return -1;
		}
		dialog->key = key;
		dialog->preselected = preselected ? strdup(preselected) : NULL;
		TAILQ_INIT(&dialog->requests);
		TAILQ_INSERT_TAIL(&broker->dialogs, dialog, link);
	}
	request->timer = evtimer_new(broker->base, request_timeout_cb, request);
	if (!request->timer) {
		if (TAILQ_EMPTY(&dialog->requests))
			dialog_free(broker, dialog);
		return -1;
	}
	request->deadline = monotonic_seconds() + broker->timeout_seconds;
	evtimer_add(request->timer, &timeout);
	request->dialog = dialog;
	TAILQ_INSERT_TAIL(&dialog->requests, request, link);
	broker->queued++;
	request->client->select = request;
	return 0;
}

/* Asks the person: queues a request for the dialog of its key. Takes
 * server and names. */
void
broker_ask_person(struct client *client, struct cp_call *call,
		  struct server_request *server, struct server_names *names,
		  const char *window, const char *preselected)
{
	struct cp_broker *broker = client->broker;
	struct request *request;

	if (broker->queued >= CP_QUEUE_MAX) {
		log_warning("rejecting the request of pid %d for %s:%d: %d "
			    "requests wait for the person, the maximum",
			    (int)cp_conn_pid(client->conn), server->host,
			    server->port, CP_QUEUE_MAX);
		cp_call_agent_error(call, "LimitReached",
				    json_pack("{s:s, s:i}", "limit", "queue",
					      "max", CP_QUEUE_MAX));
		goto clear;
	}
	request = calloc(1, sizeof(*request));
	if (!request)
		goto fail;
	request->client = client;
	request->call = call;
	request->server = *server;
	request->names = *names;
	request->parent_window = window ? strdup(window) : NULL;
	if (enqueue(broker, request, preselected) < 0) {
		request_free(request);
		cp_call_agent_error(call, "Cancelled",
				    json_pack("{s:s}", "reason",
					      "certpickd is out of memory"));
		return;
	}
	log_debug("pid %d: %s:%d waits for the person (requests queued: %u)",
		  (int)cp_conn_pid(client->conn), request->server.host,
		  request->server.port, broker->queued);
	pump(broker);
	return;

fail:
	cp_call_agent_error(
		call, "Cancelled",
		json_pack("{s:s}", "reason", "certpickd is out of memory"));
clear:
	server_request_clear(server);
	free(names->organization);
	free(names->common_name);
}

void
broker_cancel_dialogs(struct cp_broker *broker, const char *reason)
{
	struct dialog *dialog;

	while ((dialog = TAILQ_FIRST(&broker->dialogs)))
		fail_dialog(broker, dialog, "Cancelled",
			    json_pack("{s:s}", "reason", reason), "withdrawn");
}
