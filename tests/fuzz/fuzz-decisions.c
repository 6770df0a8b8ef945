/* Fuzz target for the decisions file loader (daemon/decisions.c). The input
 * is decisions.json. A file that does not load must be moved aside. Every
 * decision loaded has a host in normal form (cp_host_normalize). A file
 * that loads must survive a save: after one decision is forgotten, which
 * rewrites the file, loading the file again gives the other decisions
 * unchanged. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "decisions.h"
#include "fuzz-support.h"
#include "text.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
fail(const char *what, const json_t *before, const json_t *after)
{
	char *a = json_dumps(before, JSON_COMPACT);
	char *b = json_dumps(after, JSON_COMPACT);

	fprintf(stderr, "%s\nbefore: %s\nafter:  %s\n", what, a ? a : "-",
		b ? b : "-");
	abort();
}

/* Checks that every host loaded is in the form that certpickd compares. */
static void
check_hosts_normal(struct cp_decisions *decisions)
{
	json_t *list = cp_decisions_to_json(decisions), *decision;
	size_t i;

	if (!list)
		abort();
	json_array_foreach(list, i, decision)
	{
		const char *host =
			json_string_value(json_object_get(decision, "host"));
		char *again = strdup(host);

		if (!again || !cp_host_normalize(again) ||
		    strcmp(again, host) != 0)
			fail("a loaded host is not in normal form", list, NULL);
		free(again);
	}
	json_decref(list);
}

/* Forgets the first decision, which rewrites the file, and checks that the
 * file then contains exactly the others. */
static void
check_round_trip(const char *path, struct cp_decisions *decisions)
{
	json_t *before = cp_decisions_to_json(decisions), *after;
	json_t *first = json_array_get(before, 0);
	struct cp_decisions *again = NULL;
	char err[512];

	if (!before)
		abort();
	if (!first) {
		json_decref(before);
		return;
	}
	if (cp_decisions_forget(
		    decisions,
		    json_string_value(json_object_get(first, "host")),
		    (int)json_integer_value(json_object_get(first, "port")),
		    NULL, NULL, NULL, err, sizeof(err)) != 1)
		fail("forgetting one decision did not forget exactly one",
		     before, NULL);
	json_array_remove(before, 0);

	if (cp_decisions_open(path, &again, err, sizeof(err)) < 0) {
		fprintf(stderr, "%s\n", err);
		abort();
	}
	after = cp_decisions_to_json(again);
	if (!json_equal(before, after))
		fail("the saved decisions load differently", before, after);
	json_decref(before);
	json_decref(after);
	cp_decisions_free(again);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *path = fuzz_write_file("decisions.json", data, size);
	struct cp_decisions *decisions = NULL;
	char err[512];
	char saved_path[4096];

	snprintf(saved_path, sizeof(saved_path), "%s", path);
	if (cp_decisions_open(saved_path, &decisions, err, sizeof(err)) < 0) {
		fprintf(stderr, "%s\n", err);
		abort();
	}
	check_hosts_normal(decisions);
	if (access(saved_path, F_OK) == 0)
		check_round_trip(saved_path, decisions);
	cp_decisions_free(decisions);
	fuzz_empty_dir(fuzz_temp_dir());
	return 0;
}
