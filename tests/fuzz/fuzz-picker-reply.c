/* Fuzz target for certpickd's reading of the picker's replies
 * (daemon/picker.c). certpickd starts a real picker process: a shell
 * script that sends the input's bytes after the first on descriptor 3.
 * When the bytes end with a NUL, which ends a message, the script then
 * reads until certpickd closes the socket. Otherwise it exits, so that the
 * call fails rather than waits for the rest of a message. The first byte
 * chooses the call, Choose (even) or Close (odd).
 *
 * The call must end exactly once. A failure of the picker needs a reason
 * in UTF-8, because certpickd passes it on to clients as a JSON string. A
 * reply or error must fit org.certpick.Picker, because certpickd's dialog
 * code reads the members that the interface requires without checking
 * them again. */
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <event2/event.h>

#include "fuzz-support.h"
#include "interfaces.h"
#include "picker.h"
#include "varlink-idl.h"
#include "varlink.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char script[] = "#!/bin/sh\n"
			     "echo $$ > \"$CERTPICK_FUZZ_REPLY.pid\"\n"
			     "cat \"$CERTPICK_FUZZ_REPLY\" >&3\n"
			     "if [ -n \"$CERTPICK_FUZZ_KEEP\" ]; then\n"
			     "\twhile read -r line <&3; do :; done\n"
			     "fi\n";

static struct event_base *base;
static struct event *limit_timer;
static struct vl_interface *interface;
static char program[4096];

struct outcome {
	int calls;
	const char *method;
};

static void
on_limit(evutil_socket_t fd, short what, void *arg)
{
	event_base_loopbreak(base);
}

static void
init(void)
{
	if (base)
		return;
	base = event_base_new();
	interface = vl_interface_parse(cp_picker_interface, NULL, 0);
	limit_timer = base ? evtimer_new(base, on_limit, NULL) : NULL;
	if (!limit_timer || !interface)
		abort();
	snprintf(program, sizeof(program), "%s",
		 fuzz_write_file("picker", (const uint8_t *)script,
				 strlen(script)));
	chmod(program, 0700);
	setenv("CERTPICK_FUZZ_REPLY", fuzz_temp_path("reply"), 1);
	/* The picker may exit before it reads the call. */
	signal(SIGPIPE, SIG_IGN);
}

static void
check_result(const struct cp_picker_result *result, void *arg)
{
	struct outcome *outcome = arg;
	const char *prefix = "org.certpick.Picker.";
	char bad[128];

	outcome->calls++;
	event_base_loopbreak(base);
	if (result->failure) {
		if (!result->failure[0] || result->error || result->parameters)
			abort();
		/* certpickd sends the reason to the client as a JSON string. */
		if (!vl_utf8_valid(result->failure, strlen(result->failure))) {
			fprintf(stderr, "the failure reason is not UTF-8\n");
			abort();
		}
		return;
	}
	if (!json_is_object(result->parameters))
		abort();
	if (!result->error) {
		if (vl_interface_check(interface, VL_CHECK_OUTPUT,
				       outcome->method, result->parameters, bad,
				       sizeof(bad)) < 0)
			abort();
		return;
	}
	if (strncmp(result->error, prefix, strlen(prefix)) == 0 &&
	    vl_interface_check(interface, VL_CHECK_ERROR,
			       result->error + strlen(prefix),
			       result->parameters, bad, sizeof(bad)) < 0)
		abort();
}

/* Waits until the picker process of this input, if one started, has
 * exited. libevent closes a freed bufferevent's socket from the loop, and
 * only then does the picker see the end of its input. Other children,
 * such as libFuzzer's symbolizer, are left alone. */
static void
wait_for_picker(void)
{
	const char *pid_path = fuzz_temp_path("reply.pid");
	FILE *file = fopen(pid_path, "re");
	int pid = 0;

	if (!file)
		return;
	if (fscanf(file, "%d", &pid) != 1)
		pid = 0;
	fclose(file);
	unlink(pid_path);
	while (pid > 0 && waitpid(pid, NULL, WNOHANG) == 0) {
		event_base_loop(base, EVLOOP_NONBLOCK);
		usleep(100);
	}
}

static json_t *
call_parameters(const char *method)
{
	if (strcmp(method, "Close") == 0)
		return json_pack("{s:i, s:s}", "dialog", 1, "reason",
				 "answered");
	return json_pack("{s:i, s:{s:i, s:s, s:s}, s:{s:s, s:i}, s:b, s:[], "
			 "s:i, s:[s]}",
			 "dialog", 1, "requester", "pid", 1, "name", "fuzz",
			 "executable", "", "server", "host", "example.com",
			 "port", 443, "ca_names_given", 0, "candidates",
			 "timeout", 60, "remember_scopes", "once");
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct outcome outcome = {0};
	struct cp_picker *picker;
	struct timeval limit = {10, 0};

	if (size == 0)
		return 0;
	init();
	outcome.method = data[0] & 1 ? "Close" : "Choose";
	fuzz_write_file("reply", data + 1, size - 1);
	if (data[size - 1] == '\0' && size > 1)
		setenv("CERTPICK_FUZZ_KEEP", "1", 1);
	else
		unsetenv("CERTPICK_FUZZ_KEEP");

	picker = cp_picker_new(base, program, interface);
	if (!picker || !cp_picker_call(picker, outcome.method,
				       call_parameters(outcome.method),
				       check_result, &outcome))
		abort();
	/* The script ends every call, so the time limit only ends an input
	 * when something hangs. */
	evtimer_add(limit_timer, &limit);
	event_base_dispatch(base);
	evtimer_del(limit_timer);
	if (outcome.calls == 0) {
		fprintf(stderr, "the call to the picker did not end\n");
		abort();
	}
	if (outcome.calls > 1)
		abort();
	cp_picker_free(picker);
	wait_for_picker();
	return 0;
}
