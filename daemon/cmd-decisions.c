/* The certpick subcommands that ask certpickd about remembered decisions:
 * decisions and forget. Both start certpickd when it is not running, since
 * "always" decisions outlive it. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent.h"
#include "cli.h"
#include "log.h"

/* Milliseconds to wait for certpickd's reply; these calls never wait for
 * the person. */
#define CALL_TIMEOUT_MS 10000

/* Calls method on certpickd and returns its reply parameters (a new
 * reference), or NULL after printing why the call failed. */
static json_t *
call_agent(const char *method, json_t *parameters)
{
	struct cp_agent_reply reply;
	char err[512];
	json_t *result;
	int fd;

	fd = cp_agent_connect(true, err, sizeof(err));
	if (fd < 0) {
		json_decref(parameters);
		log_error("%s", err);
		return NULL;
	}
	if (cp_agent_call(fd, method, parameters, CALL_TIMEOUT_MS, &reply, err,
			  sizeof(err)) < 0) {
		json_decref(parameters);
		close(fd);
		log_error("%s", err);
		return NULL;
	}
	json_decref(parameters);
	close(fd);
	if (reply.error) {
		char *details = json_dumps(reply.parameters, JSON_COMPACT);

		log_error("certpickd returned %s for %s %s", reply.error,
			  reply.error, details ? details : "");
		free(details);
		cp_agent_reply_clear(&reply);
		return NULL;
	}
	result = json_incref(reply.parameters);
	cp_agent_reply_clear(&reply);
	return result;
}

static void
decisions_usage(FILE *out)
{
	fprintf(out, "usage: certpick decisions [--json]\n\n"
		     "Lists the decisions that certpickd remembers: which "
		     "identity, or none,\nto present to each server.\n\n"
		     "  --json    print a JSON array of org.certpick.Agent "
		     "Decision objects\n");
}

static void
print_decision(json_t *decision)
{
	const char *host = json_string_value(json_object_get(decision, "host"));
	json_int_t port = json_integer_value(json_object_get(decision, "port"));
	const char *label =
		json_string_value(json_object_get(decision, "label"));
	const char *id = json_string_value(json_object_get(decision, "id"));
	char server[300];

	snprintf(server, sizeof(server), "%s%s%s:%lld",
		 strchr(host, ':') ? "[" : "", host,
		 strchr(host, ':') ? "]" : "", (long long)port);
	printf("%-32s %-8s %-20s %s%s%.16s%s\n", server,
	       json_string_value(json_object_get(decision, "scope")),
	       json_string_value(json_object_get(decision, "created")),
	       id ? label : "(no certificate)", id ? " (" : "", id ? id : "",
	       id ? "...)" : "");
}

int
cmd_decisions(int argc, char **argv)
{
	static const struct option options[] = {
		{"json", no_argument, NULL, 'j'},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	json_t *reply, *list, *decision;
	bool as_json = false;
	size_t i;
	int c;

	while ((c = getopt_long(argc, argv, "h", options, NULL)) != -1) {
		switch (c) {
		case 'j':
			as_json = true;
			break;
		case 'h':
			decisions_usage(stdout);
			return CP_EXIT_OK;
		default:
			decisions_usage(stderr);
			return CP_EXIT_USAGE;
		}
	}
	if (optind != argc) {
		decisions_usage(stderr);
		return CP_EXIT_USAGE;
	}
	reply = call_agent("org.certpick.Agent.ListDecisions", NULL);
	if (!reply)
		return CP_EXIT_FAILURE;
	list = json_object_get(reply, "decisions");
	if (as_json) {
		char *text = json_dumps(list, JSON_INDENT(2));

		printf("%s\n", text ? text : "[]");
		free(text);
	} else if (json_array_size(list) == 0) {
		printf("no decisions are remembered\n");
	} else {
		printf("%-32s %-8s %-20s %s\n", "SERVER", "SCOPE", "CREATED",
		       "IDENTITY");
		json_array_foreach(list, i, decision)
		{
			print_decision(decision);
		}
	}
	json_decref(reply);
	return CP_EXIT_OK;
}

static void
forget_usage(FILE *out)
{
	fprintf(out,
		"usage: certpick forget HOST[:PORT]\n"
		"       certpick forget --all\n\n"
		"Forgets the remembered decisions for HOST (on PORT, or on "
		"every port), or\nall of them, so that certpickd asks again. "
		"Write an IPv6 address with a port\nas [ADDRESS]:PORT.\n");
}

/* Splits "host", "host:port", "[v6]" or "[v6]:port" into a JSON object of
 * ForgetDecisions parameters. Returns NULL after printing why not. */
static json_t *
parse_server(const char *text)
{
	char host[300];
	const char *port_text = NULL;
	long port = -1;

	if (text[0] == '[') {
		const char *end = strchr(text, ']');

		if (!end || (end[1] && end[1] != ':') ||
		    (size_t)(end - text) >= sizeof(host)) {
			log_error("invalid server '%.100s': write an IPv6 "
				  "address as [ADDRESS] or [ADDRESS]:PORT",
				  text);
			return NULL;
		}
		snprintf(host, sizeof(host), "%.*s", (int)(end - text - 1),
			 text + 1);
		port_text = end[1] ? end + 2 : NULL;
	} else {
		const char *colon = strchr(text, ':');

		if (colon && strchr(colon + 1, ':'))
			colon = NULL; /* a bare IPv6 address */
		snprintf(host, sizeof(host), "%.*s",
			 colon ? (int)(colon - text) : (int)strlen(text), text);
		port_text = colon ? colon + 1 : NULL;
	}
	if (port_text) {
		char *end;

		errno = 0;
		port = strtol(port_text, &end, 10);
		if (errno || end == port_text || *end || port < 1 ||
		    port > 65535) {
			log_error("invalid port in '%.100s': give a number "
				  "from 1 to 65535",
				  text);
			return NULL;
		}
	}
	if (!*host) {
		log_error("invalid server '%.100s': the host is missing", text);
		return NULL;
	}
	if (port > 0)
		return json_pack("{s:s, s:i}", "host", host, "port", (int)port);
	return json_pack("{s:s}", "host", host);
}

int
cmd_forget(int argc, char **argv)
{
	static const struct option options[] = {
		{"all", no_argument, NULL, 'a'},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	json_t *parameters, *reply;
	bool all = false;
	json_int_t count;
	int c;

	while ((c = getopt_long(argc, argv, "h", options, NULL)) != -1) {
		switch (c) {
		case 'a':
			all = true;
			break;
		case 'h':
			forget_usage(stdout);
			return CP_EXIT_OK;
		default:
			forget_usage(stderr);
			return CP_EXIT_USAGE;
		}
	}
	if (all == (argc - optind == 1) || argc - optind > 1) {
		forget_usage(stderr);
		return CP_EXIT_USAGE;
	}
	parameters =
		all ? json_pack("{s:b}", "all", 1) : parse_server(argv[optind]);
	if (!parameters)
		return CP_EXIT_USAGE;
	reply = call_agent("org.certpick.Agent.ForgetDecisions", parameters);
	if (!reply)
		return CP_EXIT_FAILURE;
	count = json_integer_value(json_object_get(reply, "forgotten"));
	printf("forgot %lld decision%s\n", (long long)count,
	       count == 1 ? "" : "s");
	json_decref(reply);
	return CP_EXIT_OK;
}
