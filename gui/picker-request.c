/* Reading a Choose request; see picker-request.h. */
#include "picker-request.h"

#include <string.h>

#include "picker-text.h"

/* Maximum timeout of a Choose, in seconds, which is also the maximum of
 * certpickd's --timeout. Larger values would overflow the countdown's
 * deadline in microseconds. */
#define PICKER_TIMEOUT_MAX_SECONDS 86400

/* A required string member, or "" when it is absent; vl_interface_check
 * has already made sure that it is a string. */
static char *
dup_string(const json_t *object, const char *key)
{
	const char *value = json_string_value(json_object_get(object, key));

	return g_strdup(value ? value : "");
}

/* An optional string member: NULL when absent or null. */
static char *
dup_optional_string(const json_t *object, const char *key)
{
	const char *value = json_string_value(json_object_get(object, key));

	return value ? g_strdup(value) : NULL;
}

static char **
dup_string_array(const json_t *object, const char *key)
{
	const json_t *array = json_object_get(object, key);
	size_t n = json_array_size(array);
	char **strings = g_new0(char *, n + 1);

	for (size_t i = 0; i < n; i++) {
		const char *value = json_string_value(json_array_get(array, i));

		strings[i] = g_strdup(value ? value : "");
	}
	return strings;
}

static int64_t
get_int(const json_t *object, const char *key)
{
	return json_integer_value(json_object_get(object, key));
}

static struct picker_candidate *
candidate_from_json(const json_t *object)
{
	struct picker_candidate *c = g_new0(struct picker_candidate, 1);

	c->id = dup_string(object, "id");
	c->label = dup_string(object, "label");
	c->subject = dup_string(object, "subject");
	c->common_name = dup_string(object, "common_name");
	c->issuer = dup_string(object, "issuer");
	c->issuer_common_name = dup_string(object, "issuer_common_name");
	c->serial = dup_string(object, "serial");
	c->not_before = dup_string(object, "not_before");
	c->not_after = dup_string(object, "not_after");
	c->sha256_fingerprint = dup_string(object, "sha256_fingerprint");
	c->key_type = dup_string(object, "key_type");
	c->key_bits = get_int(object, "key_bits");
	c->curve = dup_optional_string(object, "curve");
	c->key_usage = dup_string_array(object, "key_usage");
	c->extended_key_usage = dup_string_array(object, "extended_key_usage");
	c->emails = dup_string_array(object, "emails");
	c->source_kind = dup_string(object, "source_kind");
	c->source = dup_string(object, "source");
	c->locked = json_is_true(json_object_get(object, "locked"));
	c->chain_subjects = dup_string_array(object, "chain_subjects");
	c->eligible = json_is_true(json_object_get(object, "eligible"));
	c->reasons = dup_string_array(object, "reasons");
	c->display_name = picker_text_display_name(c);
	return c;
}

void
picker_candidate_free(struct picker_candidate *c)
{
	g_free(c->id);
	g_free(c->label);
	g_free(c->subject);
	g_free(c->common_name);
	g_free(c->issuer);
	g_free(c->issuer_common_name);
	g_free(c->serial);
	g_free(c->not_before);
	g_free(c->not_after);
	g_free(c->sha256_fingerprint);
	g_free(c->key_type);
	g_free(c->curve);
	g_strfreev(c->key_usage);
	g_strfreev(c->extended_key_usage);
	g_strfreev(c->emails);
	g_free(c->source_kind);
	g_free(c->source);
	g_strfreev(c->chain_subjects);
	g_strfreev(c->reasons);
	g_free(c->display_name);
	g_free(c->distinction);
	g_free(c);
}

/* Reads the candidates, eligible ones first. Returns false with the path
 * of the first repeated id in bad. */
static bool
read_candidates(struct picker_request *request, const json_t *array, char *bad,
		size_t bad_size)
{
	size_t n = json_array_size(array);
	size_t next = 0;

	request->candidates = g_new0(struct picker_candidate *, n ? n : 1);
	for (int pass = 0; pass < 2; pass++) {
		for (size_t i = 0; i < n; i++) {
			const json_t *object = json_array_get(array, i);
			bool eligible = json_is_true(
				json_object_get(object, "eligible"));

			if (eligible != (pass == 0))
				continue;
			request->candidates[next++] =
				candidate_from_json(object);
			request->n_candidates = next;
			if (eligible)
				request->n_eligible++;
		}
	}

	for (size_t i = 0; i < n; i++) {
		for (size_t j = 0; j < i; j++) {
			if (strcmp(request->candidates[i]->id,
				   request->candidates[j]->id) != 0)
				continue;
			g_snprintf(bad, bad_size, "candidates[%zu].id", i);
			return false;
		}
	}
	return true;
}

/* Reads an optional count of omitted identities, 0 when it is absent.
 * Returns false for a negative count. */
static bool
read_omitted(const json_t *parameters, const char *key, int64_t *count,
	     char *bad, size_t bad_size)
{
	*count = get_int(parameters, key);
	if (*count >= 0)
		return true;
	g_snprintf(bad, bad_size, "%s", key);
	return false;
}

static bool
read_scopes(struct picker_request *request, const json_t *array, char *bad,
	    size_t bad_size)
{
	size_t i;
	const json_t *value;

	json_array_foreach(array, i, value)
	{
		const char *scope = json_string_value(value);

		if (strcmp(scope, "once") == 0) {
			request->scopes |= PICKER_SCOPE_ONCE;
		} else if (strcmp(scope, "session") == 0) {
			request->scopes |= PICKER_SCOPE_SESSION;
		} else if (strcmp(scope, "always") == 0) {
			request->scopes |= PICKER_SCOPE_ALWAYS;
		} else {
			g_snprintf(bad, bad_size, "remember_scopes[%zu]", i);
			return false;
		}
	}
	return true;
}

static void
read_retry(struct picker_request *request, const json_t *retry)
{
	if (!json_is_object(retry))
		return;
	request->retry = true;
	request->retry_id = dup_string(retry, "id");
	request->retry_reason = dup_string(retry, "reason");
	request->retry_tries_left = get_int(retry, "tries_left");
}

struct picker_request *
picker_request_from_json(const json_t *parameters, char *bad, size_t bad_size)
{
	struct picker_request *request = g_new0(struct picker_request, 1);
	const json_t *requester = json_object_get(parameters, "requester");
	const json_t *server = json_object_get(parameters, "server");

	request->dialog = get_int(parameters, "dialog");
	request->requester_pid = get_int(requester, "pid");
	request->requester_name = dup_string(requester, "name");
	request->requester_executable = dup_string(requester, "executable");

	request->host = dup_string(server, "host");
	request->port = get_int(server, "port");
	request->server_organization =
		dup_optional_string(server, "organization");
	request->server_common_name =
		dup_optional_string(server, "common_name");
	if (request->port < 0 || request->port > 65535) {
		g_snprintf(bad, bad_size, "server.port");
		goto invalid;
	}

	request->ca_names_given =
		json_is_true(json_object_get(parameters, "ca_names_given"));
	if (!read_candidates(request, json_object_get(parameters, "candidates"),
			     bad, bad_size))
		goto invalid;
	picker_text_tell_apart(request->candidates, request->n_candidates);
	if (!read_omitted(parameters, "omitted_eligible",
			  &request->omitted_eligible, bad, bad_size) ||
	    !read_omitted(parameters, "omitted_excluded",
			  &request->omitted_excluded, bad, bad_size))
		goto invalid;

	request->preselected = dup_optional_string(parameters, "preselected");
	request->timeout = get_int(parameters, "timeout");
	if (request->timeout > PICKER_TIMEOUT_MAX_SECONDS) {
		g_snprintf(bad, bad_size, "timeout");
		goto invalid;
	}
	request->parent_window =
		dup_optional_string(parameters, "parent_window");
	if (!read_scopes(request,
			 json_object_get(parameters, "remember_scopes"), bad,
			 bad_size))
		goto invalid;
	read_retry(request, json_object_get(parameters, "retry"));
	return request;

invalid:
	picker_request_free(request);
	return NULL;
}

void
picker_request_free(struct picker_request *request)
{
	if (!request)
		return;
	g_free(request->requester_name);
	g_free(request->requester_executable);
	g_free(request->host);
	g_free(request->server_organization);
	g_free(request->server_common_name);
	for (size_t i = 0; i < request->n_candidates; i++)
		picker_candidate_free(request->candidates[i]);
	g_free(request->candidates);
	g_free(request->preselected);
	g_free(request->parent_window);
	g_free(request->retry_id);
	g_free(request->retry_reason);
	g_free(request);
}

struct picker_candidate *
picker_request_find(const struct picker_request *request, const char *id)
{
	if (!id)
		return NULL;
	for (size_t i = 0; i < request->n_candidates; i++) {
		if (strcmp(request->candidates[i]->id, id) == 0)
			return request->candidates[i];
	}
	return NULL;
}

char *
picker_request_server_text(const struct picker_request *request)
{
	g_autofree char *host =
		picker_text_clean(request->host, PICKER_TEXT_MAX_CHARS);

	/* An IPv6 literal needs brackets before the port. */
	if (strchr(host, ':'))
		return g_strdup_printf("[%s]:%" G_GINT64_FORMAT, host,
				       request->port);
	return g_strdup_printf("%s:%" G_GINT64_FORMAT, host, request->port);
}
