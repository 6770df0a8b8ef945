/* Subcommands whose implementation has not landed yet. Each helper removes
 * its functions from here when it adds the real ones; this file must be
 * gone before release. */
#include <stdio.h>

#include "cli.h"

static int
pending(const char *name)
{
	fprintf(stderr, "certpick: '%s' is not implemented yet\n", name);
	return CP_EXIT_FAILURE;
}

int
cmd_import(int argc, char **argv)
{
	return pending(argv[0]);
}

int
cmd_identities(int argc, char **argv)
{
	return pending(argv[0]);
}

int
cmd_remove(int argc, char **argv)
{
	return pending(argv[0]);
}

int
cmd_match(int argc, char **argv)
{
	return pending(argv[0]);
}

int
cmd_connect(int argc, char **argv)
{
	return pending(argv[0]);
}

int
cmd_decisions(int argc, char **argv)
{
	return pending(argv[0]);
}

int
cmd_forget(int argc, char **argv)
{
	return pending(argv[0]);
}
