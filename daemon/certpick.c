/* certpick: manage the identity store, ask certpickd, and connect to TLS
 * servers with a certificate that the person chooses. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "log.h"

static const struct {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *summary;
} commands[] = {
	{"import", cmd_import, "import an identity (PEM, key file, PKCS #12)"},
	{"identities", cmd_identities, "list the identities in the store"},
	{"remove", cmd_remove, "remove an identity from the store"},
	{"match", cmd_match,
	 "show which identities a server's request accepts"},
	{"connect", cmd_connect, "connect to a TLS server through certpickd"},
	{"decisions", cmd_decisions, "list remembered decisions"},
	{"forget", cmd_forget, "forget remembered decisions"},
	{"call", cmd_call, "call a method of certpickd and print the reply"},
};

static void
usage(FILE *out)
{
	fprintf(out, "usage: certpick COMMAND [OPTION]...\n\ncommands:\n");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(out, "  %-12s %s\n", commands[i].name,
			commands[i].summary);
	fprintf(out, "\nRun 'certpick COMMAND --help' for a command's options."
		     "\n");
}

/* Words that other tools use for certpick's commands, such as gpg's
 * --list-keys and the shell's ls and rm, with the command to suggest. */
static const struct {
	const char *word;
	const char *command;
} synonyms[] = {
	{"list", "identities"}, {"ls", "identities"}, {"add", "import"},
	{"rm", "remove"},	{"delete", "remove"},
};

static void
print_unknown_command(const char *name)
{
	for (size_t i = 0; i < sizeof(synonyms) / sizeof(synonyms[0]); i++)
		if (strcmp(name, synonyms[i].word) == 0) {
			fprintf(stderr,
				"certpick: unknown command '%s'; did you mean "
				"'certpick %s'?\n",
				name, synonyms[i].command);
			return;
		}
	fprintf(stderr,
		"certpick: unknown command '%.100s'; run 'certpick --help' "
		"for the list\n",
		name);
}

int
main(int argc, char **argv)
{
	cp_log_init("certpick", false);
	if (argc < 2) {
		usage(stderr);
		return CP_EXIT_USAGE;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		usage(stdout);
		return CP_EXIT_OK;
	}
	if (strcmp(argv[1], "--version") == 0) {
		printf("certpick %s\n", CERTPICK_VERSION);
		return CP_EXIT_OK;
	}
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(argv[1], commands[i].name) == 0)
			return commands[i].run(argc - 1, argv + 1);

	print_unknown_command(argv[1]);
	return CP_EXIT_USAGE;
}
