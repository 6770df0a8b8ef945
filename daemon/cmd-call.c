/* certpick call: one Varlink call to certpickd from the shell, with the
 * reply printed as JSON. It lets a shell script ask which certificate to
 * present without speaking the NUL-framed protocol itself. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent.h"
#include "cli.h"
#include "log.h"
#include "varlink.h"

/* Exit status when certpickd replied with an error, which is printed on
 * stdout so that a script can tell NoCertificate from TimedOut. */
#define EXIT_ERROR_REPLY 3

#define AGENT_PREFIX "org.certpick.Agent."

static void
call_usage(FILE *out)
{
	fprintf(out,
		"usage: certpick call [--timeout SECONDS] METHOD "
		"[PARAMETERS]\n\n"
		"Calls METHOD on certpickd, starting it when it is not "
		"running, and prints\nthe reply's parameters as JSON.\n\n"
		"  METHOD      a method of org.certpick.Agent, such as "
		"Select, or a full\n"
		"              name such as org.varlink.service.GetInfo\n"
		"  PARAMETERS  a JSON object; '-' reads it from standard "
		"input; default {}\n"
		"  --timeout SECONDS  give up after SECONDS; by default wait "
		"as long as\n"
		"              certpickd does (a Select may wait for the "
		"person)\n\n"
		"Exit status: 0 for a reply; 3 when certpickd answered with "
		"an error,\nprinted on stdout as {\"error\": NAME, "
		"\"parameters\": {...}}; 1 when\ncertpickd could not be "
		"reached or sent no reply within --timeout; 2 for a\nusage "
		"error.\n\n"
		"WatchDecisions, a subscription with many replies, cannot be "
		"called this way.\n\n"
		"Example:\n"
		"  certpick call Select '{\"host\": \"intranet.example.com\", "
		"\"port\": 443}'\n");
}

/* Reads all of standard input into a string from malloc, with its length
 * in *length, or returns NULL after printing why. */
static char *
read_stdin(size_t *length)
{
	size_t len = 0, size = 4096;
	char *text = malloc(size);

	while (text) {
		size_t n = fread(text + len, 1, size - len - 1, stdin);

		len += n;
		if (n == 0)
			break;
		if (len + 1 == size) {
			char *bigger = size < VL_MESSAGE_MAX
					       ? realloc(text, size * 2)
					       : NULL;

			if (!bigger) {
				log_error(
					"the PARAMETERS on standard input are "
					"larger than %d bytes, the largest "
					"message certpickd takes",
					VL_MESSAGE_MAX);
				free(text);
				return NULL;
			}
			text = bigger;
			size *= 2;
		}
	}
	if (!text) {
		log_error("out of memory");
		return NULL;
	}
	if (ferror(stdin)) {
		log_error("cannot read PARAMETERS from standard input: %s",
			  strerror(errno));
		free(text);
		return NULL;
	}
	text[len] = '\0';
	*length = len;
	return text;
}

/* Parses the PARAMETERS argument. Returns a new JSON object, or NULL after
 * printing why. */
static json_t *
parse_parameters(const char *argument)
{
	char *from_stdin = NULL;
	const char *text = argument;
	size_t len = strlen(argument);
	const char *nul;
	json_error_t error;
	json_t *parameters;

	if (strcmp(argument, "-") == 0) {
		from_stdin = read_stdin(&len);
		if (!from_stdin)
			return NULL;
		text = from_stdin;
	}
	/* A NUL would end the text early and drop what follows it. */
	nul = memchr(text, '\0', len);
	if (nul) {
		log_error("PARAMETERS from standard input contain a NUL "
			  "byte at offset %zu; give JSON text, which has none",
			  (size_t)(nul - text));
		free(from_stdin);
		return NULL;
	}
	parameters = json_loadb(text, len, JSON_REJECT_DUPLICATES, &error);
	if (!parameters)
		log_error("PARAMETERS %s%.60s%s is not JSON: %s at character "
			  "%d; give an object such as '{\"host\": "
			  "\"example.com\", \"port\": 443}'",
			  from_stdin ? "from standard input" : "'",
			  from_stdin ? "" : text, from_stdin ? "" : "'",
			  error.text, error.position);
	else if (!json_is_object(parameters)) {
		log_error("PARAMETERS must be a JSON object, such as "
			  "'{\"host\": \"example.com\", \"port\": 443}', not "
			  "a %s",
			  json_is_array(parameters)    ? "list"
			  : json_is_string(parameters) ? "string"
						       : "number or literal");
		json_decref(parameters);
		parameters = NULL;
	}
	free(from_stdin);
	return parameters;
}

/* Writes the full method name into full: a name without a dot is a method
 * of org.certpick.Agent. Returns -1 for a name too long to be one. */
static int
full_method_name(const char *method, char *full, size_t size)
{
	int n;

	if (strchr(method, '.'))
		n = snprintf(full, size, "%s", method);
	else
		n = snprintf(full, size, AGENT_PREFIX "%s", method);
	return n < 0 || (size_t)n >= size ? -1 : 0;
}

/* Checks a reply to a method of org.certpick.Agent against the interface.
 * Returns -1 after printing why it is invalid. */
static int
check_reply(const char *full, const struct cp_agent_reply *reply)
{
	char err[512];

	if (strncmp(full, AGENT_PREFIX, strlen(AGENT_PREFIX)) != 0)
		return 0;
	if (cp_agent_check_reply(full + strlen(AGENT_PREFIX), reply->error,
				 reply->parameters, err, sizeof(err)) == 0)
		return 0;
	log_error("%s; is CERTPICK_SOCKET the socket of a certpickd of this "
		  "version?",
		  err);
	return -1;
}

static int
print_json(json_t *value)
{
	int r = json_dumpf(value, stdout, JSON_INDENT(2) | JSON_SORT_KEYS);

	if (r == 0)
		r = fputc('\n', stdout) == EOF ? -1 : 0;
	return r == 0 && fflush(stdout) == 0 ? 0 : -1;
}

static int
run_call(const char *full, json_t *parameters, int timeout_ms)
{
	struct cp_agent_reply reply;
	char err[512];
	json_t *error;
	int fd, r;

	fd = cp_agent_connect(true, err, sizeof(err));
	if (fd < 0) {
		log_error("%s", err);
		return CP_EXIT_FAILURE;
	}
	r = cp_agent_call(fd, full, parameters, timeout_ms, &reply, err,
			  sizeof(err));
	close(fd);
	if (r < 0) {
		log_error("%s", err);
		return CP_EXIT_FAILURE;
	}
	if (check_reply(full, &reply) < 0) {
		cp_agent_reply_clear(&reply);
		return CP_EXIT_FAILURE;
	}
	if (!reply.error) {
		r = print_json(reply.parameters) == 0 ? CP_EXIT_OK
						      : CP_EXIT_FAILURE;
		cp_agent_reply_clear(&reply);
		return r;
	}
	error = json_pack("{s:s, s:O}", "error", reply.error, "parameters",
			  reply.parameters);
	r = error && print_json(error) == 0 ? EXIT_ERROR_REPLY
					    : CP_EXIT_FAILURE;
	json_decref(error);
	cp_agent_reply_clear(&reply);
	return r;
}

/* Parses --timeout's value into milliseconds. */
static int
parse_timeout(const char *text, int *timeout_ms)
{
	char *end;
	long seconds = strtol(text, &end, 10);

	if (end == text || *end || seconds < 1 || seconds > INT_MAX / 1000) {
		log_error("invalid --timeout '%.100s': give whole seconds, "
			  "from 1 to %d",
			  text, INT_MAX / 1000);
		return -1;
	}
	*timeout_ms = (int)seconds * 1000;
	return 0;
}

int
cmd_call(int argc, char **argv)
{
	static const struct option options[] = {
		{"help", no_argument, NULL, 'h'},
		{"timeout", required_argument, NULL, 't'},
		{NULL, 0, NULL, 0},
	};
	int timeout_ms = -1, c, r;
	json_t *parameters;
	char full[256];

	while ((c = getopt_long(argc, argv, "+h", options, NULL)) != -1) {
		switch (c) {
		case 'h':
			call_usage(stdout);
			return CP_EXIT_OK;
		case 't':
			if (parse_timeout(optarg, &timeout_ms) < 0)
				return CP_EXIT_USAGE;
			break;
		default:
			call_usage(stderr);
			return CP_EXIT_USAGE;
		}
	}
	if (optind == argc || argc - optind > 2) {
		log_error(optind == argc
				  ? "the METHOD to call is missing"
				  : "too many arguments: give METHOD and one "
				    "JSON object of PARAMETERS");
		call_usage(stderr);
		return CP_EXIT_USAGE;
	}
	if (full_method_name(argv[optind], full, sizeof(full)) < 0) {
		log_error("invalid METHOD '%.100s...': it is too long",
			  argv[optind]);
		return CP_EXIT_USAGE;
	}
	if (strcmp(full, AGENT_PREFIX "WatchDecisions") == 0) {
		log_error("certpick call cannot call WatchDecisions: it is a "
			  "subscription with one reply per forgotten decision, "
			  "and certpick call reads one reply; a program calls "
			  "it on its own connection with \"more\": true");
		return CP_EXIT_USAGE;
	}
	if (optind + 1 < argc)
		parameters = parse_parameters(argv[optind + 1]);
	else
		parameters = json_object();
	if (!parameters)
		return CP_EXIT_USAGE;
	r = run_call(full, parameters, timeout_ms);
	json_decref(parameters);
	return r;
}
