/* The picker process and certpickd's Varlink client to it. */
#include "picker.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>

#include "daemon-limits.h"
#include "log.h"
#include "text.h"
#include "varlink-event.h"
#include "varlink.h"

extern char **environ;

/* The descriptor on which the picker finds its end of the socketpair. */
#define PICKER_FD 3

struct cp_picker_call {
	struct cp_picker *picker;
	char *method; /* short name */
	bool close;   /* a Close call, which the picker replies to at once */
	cp_picker_done_fn done;
	void *arg;
	TAILQ_ENTRY(cp_picker_call) link;
};

TAILQ_HEAD(call_list, cp_picker_call);

/* A picker whose socket certpickd closed and which should exit by itself;
 * it is killed when it has not after CP_PICKER_EXIT_SECONDS. */
struct exiting {
	struct cp_picker *picker;
	pid_t pid;
	struct event *kill_timer;
	LIST_ENTRY(exiting) link;
};

struct cp_picker {
	struct event_base *base;
	const char *program;
	const struct vl_interface *interface;
	pid_t pid; /* 0 when no picker runs */
	struct bufferevent *bev;
	struct call_list calls;	 /* sent, in order, awaiting replies */
	struct call_list failed; /* awaiting delivery of failure */
	char failure[300];
	struct event *fail_event;
	struct event *idle_timer;
	struct event *close_timer; /* runs while a Close is unanswered */
	unsigned closes_pending;
	struct event *sigchld;
	LIST_HEAD(, exiting) exiting;
};

static void
call_free(struct cp_picker_call *call)
{
	free(call->method);
	free(call);
}

static void
kill_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct exiting *e = arg;

	log_notice("picker (pid %d) did not exit %d seconds after its socket "
		   "closed; killing it",
		   (int)e->pid, CP_PICKER_EXIT_SECONDS);
	kill(e->pid, SIGKILL);
}

/* Closes the socket of the running picker, which tells it to exit. Unless
 * it was already reaped, it is watched until it does. */
static void
picker_stop(struct cp_picker *picker, bool reaped)
{
	struct timeval timeout = {CP_PICKER_EXIT_SECONDS, 0};
	struct exiting *e;

	if (!picker->pid)
		return;
	bufferevent_free(picker->bev);
	picker->bev = NULL;
	event_del(picker->idle_timer);
	event_del(picker->close_timer);
	picker->closes_pending = 0;
	if (reaped) {
		picker->pid = 0;
		return;
	}

	e = calloc(1, sizeof(*e));
	if (e) {
		e->picker = picker;
		e->pid = picker->pid;
		e->kill_timer = evtimer_new(picker->base, kill_timer_cb, e);
		if (e->kill_timer) {
			evtimer_add(e->kill_timer, &timeout);
			LIST_INSERT_HEAD(&picker->exiting, e, link);
		} else {
			free(e);
		}
	}
	picker->pid = 0;
}

/* Stops the picker and fails every call in flight with reason; the
 * callbacks run from the event loop. */
static void
picker_fail_reaped(struct cp_picker *picker, const char *reason, bool reaped)
{
	struct cp_picker_call *call;

	if (picker->pid)
		log_warning("picker (pid %d) failed: %s", (int)picker->pid,
			    reason);
	else
		log_warning("picker failed: %s", reason);
	picker_stop(picker, reaped);
	/* The reason may quote the picker's bytes, cut inside a character,
	 * and goes to clients as a JSON string. */
	snprintf(picker->failure, sizeof(picker->failure), "%s", reason);
	cp_text_clean(picker->failure);
	while ((call = TAILQ_FIRST(&picker->calls))) {
		TAILQ_REMOVE(&picker->calls, call, link);
		TAILQ_INSERT_TAIL(&picker->failed, call, link);
	}
	if (!TAILQ_EMPTY(&picker->failed))
		event_active(picker->fail_event, 0, 0);
}

static void
picker_fail(struct cp_picker *picker, const char *reason)
{
	picker_fail_reaped(picker, reason, false);
}

static void
fail_event_cb(evutil_socket_t fd, short what, void *arg)
{
	struct cp_picker *picker = arg;
	struct cp_picker_result result = {.failure = picker->failure};
	struct cp_picker_call *call;

	while ((call = TAILQ_FIRST(&picker->failed))) {
		TAILQ_REMOVE(&picker->failed, call, link);
		if (call->done)
			call->done(&result, call->arg);
		call_free(call);
	}
}

/* Checks a reply or error against org.certpick.Picker. Errors of other
 * interfaces (org.varlink.service's, for a call the picker rejected) pass
 * as they are. Returns 0, or -1 with the reason in why. */
static int
check_reply(struct cp_picker *picker, const char *method,
	    const struct vl_reply *reply, char *why, size_t why_size)
{
	const char *name = vl_interface_name(picker->interface);
	size_t len = strlen(name);
	char bad[256];

	if (!reply->error) {
		if (vl_interface_check(picker->interface, VL_CHECK_OUTPUT,
				       method, reply->parameters, bad,
				       sizeof(bad)) == 0)
			return 0;
		snprintf(why, why_size,
			 "its reply to %s has an invalid member '%.100s'",
			 method, bad);
		return -1;
	}
	if (strncmp(reply->error, name, len) != 0 || reply->error[len] != '.')
		return 0;
	if (!vl_interface_has_error(picker->interface,
				    reply->error + len + 1)) {
		snprintf(why, why_size,
			 "it answered %s with an unknown error "
			 "'%.100s'",
			 method, reply->error);
		return -1;
	}
	if (vl_interface_check(picker->interface, VL_CHECK_ERROR,
			       reply->error + len + 1, reply->parameters, bad,
			       sizeof(bad)) < 0) {
		snprintf(why, why_size,
			 "its error %.100s has an invalid member '%.100s'",
			 reply->error, bad);
		return -1;
	}
	return 0;
}

/* Gives the next unanswered Close its own CP_PICKER_CLOSE_SECONDS. */
static void
close_answered(struct cp_picker *picker)
{
	struct timeval timeout = {CP_PICKER_CLOSE_SECONDS, 0};

	picker->closes_pending--;
	if (picker->closes_pending > 0)
		evtimer_add(picker->close_timer, &timeout);
	else
		event_del(picker->close_timer);
}

/* Stops a picker that left Close without a reply. It needs no person for
 * that reply, so it has hung, and every later dialog would time out
 * waiting for it. The next request starts a new picker. */
static void
close_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	char why[128];

	snprintf(why, sizeof(why), "it did not answer Close within %d seconds",
		 CP_PICKER_CLOSE_SECONDS);
	picker_fail(arg, why);
}

/* Delivers one message from the picker to the oldest call in flight.
 * Returns -1 after failing the picker. */
static int
handle_reply(struct cp_picker *picker, json_t *msg)
{
	struct cp_picker_call *call = TAILQ_FIRST(&picker->calls);
	struct cp_picker_result result = {0};
	struct vl_reply reply;
	char why[256];

	if (vl_message_to_reply(msg, &reply) != VL_OK) {
		picker_fail(picker, "it sent a message that is not a reply");
		return -1;
	}
	if (!call) {
		picker_fail(picker, "it sent a reply to no call");
		return -1;
	}
	if (reply.continues) {
		picker_fail(picker, "it sent several replies to one call");
		return -1;
	}
	if (check_reply(picker, call->method, &reply, why, sizeof(why)) < 0) {
		picker_fail(picker, why);
		return -1;
	}
	log_debug("picker: %s returned %s", call->method,
		  reply.error ? reply.error : "a reply");

	TAILQ_REMOVE(&picker->calls, call, link);
	if (call->close)
		close_answered(picker);
	result.error = reply.error;
	result.parameters = reply.parameters;
	if (call->done)
		call->done(&result, call->arg);
	call_free(call);
	return 0;
}

static void
picker_read_cb(struct bufferevent *bev, void *arg)
{
	struct cp_picker *picker = arg;
	struct evbuffer *input = bufferevent_get_input(bev);

	/* A callback may stop the picker (and free bev), so the loop
	 * checks that the same socket is still open. */
	while (picker->bev == bev) {
		json_t *msg;
		int r = vl_evbuffer_next(input, &msg);

		if (r == 0)
			break;
		if (r < 0) {
			char why[128];

			snprintf(why, sizeof(why),
				 "it sent an invalid message: %s",
				 vl_status_string(r));
			picker_fail(picker, why);
			return;
		}
		r = handle_reply(picker, msg);
		json_decref(msg);
		if (r < 0)
			return;
	}
}

static void
picker_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct cp_picker *picker = arg;

	if (TAILQ_EMPTY(&picker->calls)) {
		log_info("picker (pid %d) closed its socket while idle",
			 (int)picker->pid);
		picker_stop(picker, false);
		return;
	}
	if (what & BEV_EVENT_ERROR) {
		char why[160];

		snprintf(why, sizeof(why),
			 "its socket failed before it answered: %s",
			 strerror(EVUTIL_SOCKET_ERROR()));
		picker_fail(picker, why);
		return;
	}
	picker_fail(picker, "it closed its socket before answering");
}

static void
idle_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct cp_picker *picker = arg;

	log_debug("closing the picker (pid %d), idle for %d seconds",
		  (int)picker->pid, CP_PICKER_IDLE_SECONDS);
	picker_stop(picker, false);
}

static void
describe_status(int status, char *buffer, size_t size)
{
	if (WIFEXITED(status))
		snprintf(buffer, size, "exited with status %d",
			 WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		snprintf(buffer, size, "was killed by signal %d (%s)",
			 WTERMSIG(status), strsignal(WTERMSIG(status)));
	else
		snprintf(buffer, size, "ended with wait status %d", status);
}

static void
sigchld_cb(evutil_socket_t fd, short what, void *arg)
{
	struct cp_picker *picker = arg;
	int status;
	pid_t pid;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		char how[128];
		struct exiting *e;

		describe_status(status, how, sizeof(how));
		if (pid == picker->pid) {
			char why[160];

			snprintf(why, sizeof(why), "it %s", how);
			picker_fail_reaped(picker, why, true);
			continue;
		}
		LIST_FOREACH(e, &picker->exiting, link)
		{
			if (e->pid == pid)
				break;
		}
		if (!e)
			continue;
		if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
			log_debug("picker (pid %d) exited", (int)pid);
		else
			log_notice("picker (pid %d) %s", (int)pid, how);
		LIST_REMOVE(e, link);
		event_free(e->kill_timer);
		free(e);
	}
}

struct cp_picker *
cp_picker_new(struct event_base *base, const char *program,
	      const struct vl_interface *interface)
{
	struct cp_picker *picker = calloc(1, sizeof(*picker));

	if (!picker)
		return NULL;
	picker->base = base;
	picker->program = program;
	picker->interface = interface;
	TAILQ_INIT(&picker->calls);
	TAILQ_INIT(&picker->failed);
	LIST_INIT(&picker->exiting);
	picker->fail_event = event_new(base, -1, 0, fail_event_cb, picker);
	picker->idle_timer = evtimer_new(base, idle_timer_cb, picker);
	picker->close_timer = evtimer_new(base, close_timer_cb, picker);
	picker->sigchld = evsignal_new(base, SIGCHLD, sigchld_cb, picker);
	if (!picker->fail_event || !picker->idle_timer ||
	    !picker->close_timer || !picker->sigchld ||
	    evsignal_add(picker->sigchld, NULL) < 0) {
		cp_picker_free(picker);
		return NULL;
	}
	return picker;
}

void
cp_picker_free(struct cp_picker *picker)
{
	struct cp_picker_call *call;
	struct exiting *e;

	if (!picker)
		return;
	picker_stop(picker, false);
	while ((call = TAILQ_FIRST(&picker->calls))) {
		TAILQ_REMOVE(&picker->calls, call, link);
		call_free(call);
	}
	while ((call = TAILQ_FIRST(&picker->failed))) {
		TAILQ_REMOVE(&picker->failed, call, link);
		call_free(call);
	}
	/* Nothing will kill a picker that ignores the end of its socket
	 * once certpickd is gone. Each pid is still this process's child,
	 * not yet reaped, so it cannot name another process. */
	while ((e = LIST_FIRST(&picker->exiting))) {
		kill(e->pid, SIGTERM);
		LIST_REMOVE(e, link);
		event_free(e->kill_timer);
		free(e);
	}
	if (picker->fail_event)
		event_free(picker->fail_event);
	if (picker->idle_timer)
		event_free(picker->idle_timer);
	if (picker->close_timer)
		event_free(picker->close_timer);
	if (picker->sigchld)
		event_free(picker->sigchld);
	free(picker);
}

/* Builds the picker's environment: certpickd's own, without the variables
 * that describe certpickd's own descriptors, plus CERTPICK_PICKER_FD. */
static char **
picker_environment(void)
{
	static const char *const dropped[] = {
		"CERTPICK_PICKER_FD=", "LISTEN_FDS=",	 "LISTEN_PID=",
		"LISTEN_FDNAMES=",     "NOTIFY_SOCKET=",
	};
	size_t n = 0, k = 0;
	char **env;

	while (environ[n])
		n++;
	env = calloc(n + 2, sizeof(*env));
	if (!env)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		bool drop = false;

		for (size_t j = 0; j < sizeof(dropped) / sizeof(*dropped); j++)
			drop |= strncmp(environ[i], dropped[j],
					strlen(dropped[j])) == 0;
		if (!drop)
			env[k++] = environ[i];
	}
	env[k++] = "CERTPICK_PICKER_FD=3";
	env[k] = NULL;
	return env;
}

/* Spawns the picker with the child's end of a new socketpair as descriptor
 * 3. Returns our end, or -1 with a message in err. */
static int
spawn_picker(struct cp_picker *picker, char *err, size_t err_size)
{
	char *argv[] = {(char *)picker->program, NULL};
	posix_spawn_file_actions_t actions;
	posix_spawnattr_t attr;
	sigset_t none, defaults;
	char **env;
	int sv[2], child_fd, r;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
		snprintf(err, err_size, "socketpair failed: %s",
			 strerror(errno));
		return -1;
	}

	/* dup2 onto the same number would keep close-on-exec set, so the
	 * child's end must not already be descriptor 3. */
	child_fd = fcntl(sv[1], F_DUPFD_CLOEXEC, PICKER_FD + 1);
	close(sv[1]);
	env = picker_environment();
	if (child_fd < 0 || !env) {
		snprintf(err, err_size, "out of descriptors or memory");
		close(sv[0]);
		if (child_fd >= 0)
			close(child_fd);
		free(env);
		return -1;
	}

	sigemptyset(&none);
	sigemptyset(&defaults);
	sigaddset(&defaults, SIGPIPE);
	sigaddset(&defaults, SIGCHLD);
	sigaddset(&defaults, SIGTERM);
	sigaddset(&defaults, SIGINT);
	sigaddset(&defaults, SIGHUP);
	posix_spawnattr_init(&attr);
	posix_spawnattr_setsigmask(&attr, &none);
	posix_spawnattr_setsigdefault(&attr, &defaults);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK |
						POSIX_SPAWN_SETSIGDEF);
	posix_spawn_file_actions_init(&actions);
	posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null",
					 O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&actions, child_fd, PICKER_FD);

	r = posix_spawn(&picker->pid, picker->program, &actions, &attr, argv,
			env);
	posix_spawn_file_actions_destroy(&actions);
	posix_spawnattr_destroy(&attr);
	free(env);
	close(child_fd);
	if (r != 0) {
		picker->pid = 0;
		snprintf(err, err_size, "cannot start the picker '%.200s': %s",
			 picker->program, strerror(r));
		close(sv[0]);
		return -1;
	}
	return sv[0];
}

static int
picker_start(struct cp_picker *picker)
{
	char err[300];
	int fd = spawn_picker(picker, err, sizeof(err));

	if (fd < 0) {
		picker_fail(picker, err);
		return -1;
	}
	evutil_make_socket_nonblocking(fd);
	picker->bev =
		bufferevent_socket_new(picker->base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (!picker->bev) {
		close(fd);
		picker_fail(picker, "out of memory");
		return -1;
	}
	bufferevent_setwatermark(picker->bev, EV_READ, 0, VL_MESSAGE_MAX);
	bufferevent_setcb(picker->bev, picker_read_cb, NULL, picker_event_cb,
			  picker);
	bufferevent_enable(picker->bev, EV_READ);
	log_info("started the picker '%s' (pid %d)", picker->program,
		 (int)picker->pid);
	return 0;
}

struct cp_picker_call *
cp_picker_call(struct cp_picker *picker, const char *method, json_t *parameters,
	       cp_picker_done_fn done, void *arg)
{
	struct cp_picker_call *call = calloc(1, sizeof(*call));
	char full[128];
	json_t *msg;

	snprintf(full, sizeof(full), "%s.%s",
		 vl_interface_name(picker->interface), method);
	msg = vl_call_new(full, parameters, 0);
	if (!call || !msg || !(call->method = strdup(method))) {
		free(call);
		json_decref(msg);
		return NULL;
	}
	call->picker = picker;
	call->done = done;
	call->arg = arg;
	event_del(picker->idle_timer);

	if (!picker->pid && picker_start(picker) < 0) {
		/* picker_fail already moved the other calls; this one
		 * joins them. */
		TAILQ_INSERT_TAIL(&picker->failed, call, link);
		event_active(picker->fail_event, 0, 0);
		json_decref(msg);
		return call;
	}
	TAILQ_INSERT_TAIL(&picker->calls, call, link);
	if (strcmp(method, "Close") == 0) {
		struct timeval timeout = {CP_PICKER_CLOSE_SECONDS, 0};

		call->close = true;
		if (picker->closes_pending++ == 0)
			evtimer_add(picker->close_timer, &timeout);
	}
	if (vl_evbuffer_add(bufferevent_get_output(picker->bev), msg) < 0)
		picker_fail(picker, "the call does not fit in a message");
	else
		log_debug("picker: calling %s", method);
	json_decref(msg);
	return call;
}

void
cp_picker_call_forget(struct cp_picker_call *call)
{
	if (call)
		call->done = NULL;
}

void
cp_picker_set_idle(struct cp_picker *picker)
{
	struct timeval timeout = {CP_PICKER_IDLE_SECONDS, 0};

	if (picker->pid && TAILQ_EMPTY(&picker->calls))
		evtimer_add(picker->idle_timer, &timeout);
}

bool
cp_picker_running(const struct cp_picker *picker)
{
	return picker->pid != 0;
}
