/* Fuzz target for what certpick connect parses (daemon/connect-parse.c):
 * the input is both its URL|HOST:PORT argument and an HTTP status line.
 * A target that parses must be well formed and must parse the same again
 * when written back as a URL; a status line that parses must give a code
 * of 100-599 and a reason phrase from the line's end. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "connect-parse.h"
#include "fuzz-support.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_well_formed(const struct cp_connect_target *target)
{
	long port = strtol(target->port, NULL, 10);

	if (!target->host[0] || port < 1 || port > 65535)
		abort();
	if (target->path[0] != '/' || strchr(target->path, '#'))
		abort();
	for (const char *p = target->path; *p; p++)
		if ((unsigned char)*p <= 0x20 || *p == 0x7f)
			abort();
}

/* Writes the target back as text and parses it again. */
static void
check_round_trip(const struct cp_connect_target *target)
{
	struct cp_connect_target again;
	char *text = NULL;
	int n;

	if (strchr(target->host, ':'))
		n = asprintf(&text, "%s[%s]:%s%s",
			     target->https ? "https://" : "", target->host,
			     target->port, target->https ? target->path : "");
	else
		n = asprintf(&text, "%s%s:%s%s",
			     target->https ? "https://" : "", target->host,
			     target->port, target->https ? target->path : "");
	if (n < 0)
		abort();
	if (cp_connect_parse_target(text, &again) < 0 ||
	    memcmp(&again, target, sizeof(again)) != 0) {
		fprintf(stderr, "'%s' parses differently\n", text);
		abort();
	}
	free(text);
}

static void
check_status_line(const char *line)
{
	int status = -1;
	const char *reason = cp_http_parse_status_line(line, &status);

	if (!reason)
		return;
	if (status < 100 || status > 599 || strncmp(line, "HTTP/", 5) != 0)
		abort();
	if (reason < line || reason > line + strlen(line))
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = fuzz_string(data, size);
	struct cp_connect_target target;

	if (cp_connect_parse_target(text, &target) == 0) {
		check_well_formed(&target);
		check_round_trip(&target);
	}
	check_status_line(text);
	free(text);
	return 0;
}
