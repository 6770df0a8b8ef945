/* The subcommands of the certpick command. Each takes the arguments after
 * its name (argv[0] is the subcommand) and returns the process exit code. */
#pragma once

/* Exit codes shared by every subcommand; connect adds its own above 2. */
enum {
	CP_EXIT_OK = 0,
	CP_EXIT_FAILURE = 1,
	CP_EXIT_USAGE = 2,
};

int cmd_import(int argc, char **argv);
int cmd_identities(int argc, char **argv);
int cmd_remove(int argc, char **argv);
int cmd_match(int argc, char **argv);
int cmd_connect(int argc, char **argv);
int cmd_decisions(int argc, char **argv);
int cmd_forget(int argc, char **argv);
int cmd_call(int argc, char **argv);
