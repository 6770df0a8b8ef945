/* The certpick subcommands that ask certpickd about remembered decisions:
 * decisions and forget. Both start certpickd when it is not running, since
 * "always" decisions outlive it. */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent.h"
#include "cli.h"
#include "log.h"
#include "text.h"
#include "varlink.h"

/* Milliseconds to wait for certpickd's reply; these calls never wait for
 * the person. */
#define CALL_TIMEOUT_MS 10000

/* Prints why certpickd failed a call. An invalid parameter is named with
 * the value given for it, when it was a string. */
static void
print_agent_error(const char *method, json_t *parameters,
		  const struct cp_agent_reply *reply)
{
	const char *member = json_string_value(
		json_object_get(reply->parameters, "parameter"));
	const char *given =
		member ? json_string_value(json_object_get(parameters, member))
		       : NULL;
	char *details;

	if (strcmp(reply->error, VL_ERROR_INVALID_PARAMETER) == 0 && given) {
		char *shown = cp_text_printable(given, strlen(given), 100);

		log_error("invalid %s '%s': certpickd rejects it%s", member,
			  shown ? shown : "?",
			  strcmp(member, "host") == 0
				  ? "; give a host name or an IP address, "
				    "without empty labels as in 'a..b'"
				  : "");
		free(shown);
		return;
	}
	details = json_dumps(reply->parameters, JSON_COMPACT);
	log_error("certpickd returned the error %s for %s %.300s", reply->error,
		  method, details ? details : "");
	free(details);
}

/* Calls method (its short name) on certpickd and returns its reply
 * parameters (a new reference), checked against org.certpick.Agent, or
 * NULL after printing why the call failed. Takes parameters. */
static json_t *
call_agent(const char *method, json_t *parameters)
{
	struct cp_agent_reply reply;
	char full[64], err[512];
	json_t *result = NULL;
	int fd;

	snprintf(full, sizeof(full), "org.certpick.Agent.%s", method);
	fd = cp_agent_connect(true, err, sizeof(err));
	if (fd < 0) {
		log_error("%s", err);
		goto out;
	}
	if (cp_agent_call(fd, full, parameters, CALL_TIMEOUT_MS, &reply, err,
			  sizeof(err)) < 0) {
		close(fd);
		log_error("%s", err);
		goto out;
	}
	close(fd);

	/* Something else may listen on CERTPICK_SOCKET, or a certpickd of
	 * another version. */
	if (cp_agent_check_reply(method, reply.error, reply.parameters, err,
				 sizeof(err)) < 0)
		log_error("%s; is CERTPICK_SOCKET the socket of a certpickd of "
			  "this version?",
			  err);
	else if (reply.error)
		print_agent_error(method, parameters, &reply);
	else
		result = json_incref(reply.parameters);
	cp_agent_reply_clear(&reply);
out:
	json_decref(parameters);
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

/* Returns a member of a decision as text fit for a terminal: certpickd
 * passes on labels and hosts, which could hold escape sequences. */
static char *
printable_member(json_t *decision, const char *key)
{
	const char *text = json_string_value(json_object_get(decision, key));

	return text ? cp_text_printable(text, strlen(text), 300) : NULL;
}

static void
print_decision(json_t *decision)
{
	char *host = printable_member(decision, "host");
	char *label = printable_member(decision, "label");
	char *id = printable_member(decision, "id");
	char *scope = printable_member(decision, "scope");
	char *created = printable_member(decision, "created");
	json_int_t port = json_integer_value(json_object_get(decision, "port"));
	bool ipv6 = host && strchr(host, ':');
	char server[320];

	snprintf(server, sizeof(server), "%s%s%s:%lld", ipv6 ? "[" : "",
		 host ? host : "?", ipv6 ? "]" : "", (long long)port);
	printf("%-32s %-8s %-20s %s%s%.16s%s\n", server, scope ? scope : "?",
	       created ? created : "?",
	       id ? (label ? label : "") : "(no certificate)", id ? " (" : "",
	       id ? id : "", id ? "...)" : "");
	free(host);
	free(label);
	free(id);
	free(scope);
	free(created);
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
	reply = call_agent("ListDecisions", NULL);
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

	if (strstr(text, "://")) {
		log_error("invalid server '%.100s': give HOST or HOST:PORT, "
			  "not a URL",
			  text);
		return NULL;
	}
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
		unsigned char address[16];

		if (colon && strchr(colon + 1, ':')) {
			/* A bare IPv6 address, which cannot take a port:
			 * "::1:8443" would be read as the address ::1:8443. */
			if (inet_pton(AF_INET6, text, address) != 1) {
				log_error("invalid server '%.100s': write an "
					  "IPv6 address with a port as "
					  "[ADDRESS]:PORT",
					  text);
				return NULL;
			}
			colon = NULL;
		}
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
	reply = call_agent("ForgetDecisions", parameters);
	if (!reply)
		return CP_EXIT_FAILURE;
	count = json_integer_value(json_object_get(reply, "forgotten"));
	printf("forgot %lld decision%s\n", (long long)count,
	       count == 1 ? "" : "s");
	if (count == 0 && !all)
		log_info("no decision is remembered for '%.100s'; 'certpick "
			 "decisions' lists the servers as HOST:PORT",
			 argv[optind]);
	json_decref(reply);
	return CP_EXIT_OK;
}
