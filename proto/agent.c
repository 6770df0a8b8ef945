/* Finding, starting and calling certpickd over its Unix socket. */
#include "agent.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "interfaces.h"
#include "varlink-idl.h"
#include "varlink.h"

#ifndef CERTPICKD_PATH
#define CERTPICKD_PATH "/usr/local/bin/certpickd"
#endif

extern char **environ;

int
cp_agent_socket_path(char *buffer, size_t size, char *err, size_t err_size)
{
	const char *path = getenv("CERTPICK_SOCKET");
	const char *runtime = getenv("XDG_RUNTIME_DIR");
	int n;

	if (path && *path)
		n = snprintf(buffer, size, "%s", path);
	else if (runtime && *runtime)
		n = snprintf(buffer, size, "%s/certpick/socket", runtime);
	else {
		snprintf(err, err_size,
			 "cannot find certpickd's socket: neither "
			 "CERTPICK_SOCKET nor XDG_RUNTIME_DIR is set");
		return -1;
	}
	if (n < 0 || (size_t)n >= size ||
	    (size_t)n >= sizeof(((struct sockaddr_un *)0)->sun_path)) {
		snprintf(err, err_size,
			 "socket path '%.100s...' is too long for a Unix "
			 "socket; set CERTPICK_SOCKET to a shorter path",
			 buffer);
		return -1;
	}
	return 0;
}

static int
connect_path(const char *path)
{
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	int fd;

	snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
		int saved = errno;

		close(fd);
		errno = saved;
		return -1;
	}
	return fd;
}

static long
monotonic_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

/* The end of certpickd's stderr before it detached: its last bytes, which
 * contain the reason when it fails to start. The tail is short enough to be
 * quoted whole, so that no cut splits a character. */
struct start_output {
	int fd;
	char tail[301];
	size_t len;
};

/* Reads what the pipe holds without blocking, keeping the last bytes. The
 * pipe must be drained, or a certpickd that logs much at start-up would
 * block before it listens. */
static void
drain_start_output(struct start_output *out)
{
	char chunk[4096];
	ssize_t n;

	while ((n = read(out->fd, chunk, sizeof(chunk))) > 0) {
		size_t keep = sizeof(out->tail) - 1;
		size_t take = (size_t)n > keep ? keep : (size_t)n;

		if (out->len + take > keep) {
			size_t drop = out->len + take - keep;

			memmove(out->tail, out->tail + drop, out->len - drop);
			out->len -= drop;
		}
		memcpy(out->tail + out->len, chunk + (size_t)n - take, take);
		out->len += take;
	}
}

/* Returns the length of the valid UTF-8 sequence at s, or 0. A NUL ends
 * the sequence like any other byte that does not continue it. */
static size_t
utf8_sequence_length(const unsigned char *s)
{
	unsigned char min = 0x80, max = 0xbf;
	size_t len;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		len = 2;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		len = 3;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		len = 4;
	else
		return 0;
	/* The second byte's range excludes overlong forms, UTF-16
	 * surrogates and code points past U+10FFFF. */
	if (s[0] == 0xe0)
		min = 0xa0;
	else if (s[0] == 0xed)
		max = 0x9f;
	else if (s[0] == 0xf0)
		min = 0x90;
	else if (s[0] == 0xf4)
		max = 0x8f;
	if (s[1] < min || s[1] > max)
		return 0;
	for (size_t i = 2; i < len; i++)
		if (s[i] < 0x80 || s[i] > 0xbf)
			return 0;
	return len;
}

/* Returns the last line certpickd wrote, without its newline, or "". The
 * line ends up in a message on a terminal, so every control character
 * (escape sequences included) and every byte that is not UTF-8 becomes
 * '?', as do the bytes of a character cut at the start of the tail. */
static const char *
last_start_line(struct start_output *out)
{
	unsigned char *p;
	char *line;

	while (out->len > 0 && (out->tail[out->len - 1] == '\n' ||
				out->tail[out->len - 1] == '\r'))
		out->len--;
	out->tail[out->len] = '\0';
	line = strrchr(out->tail, '\n');
	line = line ? line + 1 : out->tail;
	for (p = (unsigned char *)line; *p;) {
		size_t len = utf8_sequence_length(p);

		if (len == 0 || *p < 0x20 || *p == 0x7f) {
			*p++ = '?';
			continue;
		}
		p += len;
	}
	return line;
}

/* Writes why certpickd stopped before it listened: its exit status or
 * signal, and its last line. */
static void
describe_start_failure(const char *program, const char *path, int status,
		       struct start_output *output, char *err, size_t err_size)
{
	const char *reason;
	char how[64];

	drain_start_output(output);
	reason = last_start_line(output);
	if (WIFSIGNALED(status))
		snprintf(how, sizeof(how), "was killed by signal %d",
			 WTERMSIG(status));
	else
		snprintf(how, sizeof(how), "exited with status %d",
			 WEXITSTATUS(status));
	snprintf(err, err_size,
		 "certpickd '%.200s' %s before it listened on '%.200s'%s%s",
		 program, how, path, *reason ? ": " : "", reason);
}

/* Starts certpickd in the background on the given socket and waits until
 * the socket accepts connections. Returns a connected socket, or -1. */
static int
start_agent(const char *path, char *err, size_t err_size)
{
	const char *program = getenv("CERTPICKD");
	char *argv[] = {NULL, "--socket", (char *)path, NULL};
	struct start_output output = {.fd = -1};
	posix_spawn_file_actions_t actions;
	int r, fd = -1, pipe_fds[2];
	const char *reason;
	long deadline;
	pid_t pid;

	if (!program || !*program)
		program = CERTPICKD_PATH;
	argv[0] = (char *)program;

	/* certpickd detaches itself (it forks unless --foreground), so the
	 * child reaped below exits as soon as the daemon runs. It outlives
	 * this program, so its stderr is a pipe read here, not this
	 * program's stderr: a "2>FILE" of one command would collect its log
	 * for as long as it runs. Once detached, certpickd drops the pipe
	 * and logs to the journal when there is one. */
	if (pipe2(pipe_fds, O_CLOEXEC | O_NONBLOCK) < 0) {
		snprintf(err, err_size, "cannot start certpickd: %s",
			 strerror(errno));
		return -1;
	}
	output.fd = pipe_fds[0];
	posix_spawn_file_actions_init(&actions);
	posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null",
					 O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&actions, pipe_fds[1], STDERR_FILENO);
	r = posix_spawn(&pid, program, &actions, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&actions);
	close(pipe_fds[1]);
	if (r != 0) {
		snprintf(err, err_size,
			 "cannot start certpickd '%.200s': %s; set CERTPICKD "
			 "to its path",
			 program, strerror(r));
		goto out;
	}

	deadline = monotonic_ms() + CP_AGENT_START_TIMEOUT_MS;
	do {
		drain_start_output(&output);
		fd = connect_path(path);
		if (fd >= 0) {
			waitpid(pid, NULL, WNOHANG);
			goto out;
		}
		if (waitpid(pid, &r, WNOHANG) == pid && r != 0) {
			describe_start_failure(program, path, r, &output, err,
					       err_size);
			goto out;
		}
		poll(NULL, 0, 20);
	} while (monotonic_ms() < deadline);

	drain_start_output(&output);
	reason = last_start_line(&output);
	snprintf(err, err_size,
		 "certpickd did not listen on '%.200s' within %d ms%s%s", path,
		 CP_AGENT_START_TIMEOUT_MS, *reason ? "; its last line: " : "",
		 reason);
out:
	close(output.fd);
	return fd;
}

/* Returns fd when the server on it runs as this user, as certpickd does;
 * else closes fd and returns -1 with a message. A server of another user
 * would learn every host connected to, and could hand out identities that
 * are not the person's. */
static int
check_server_user(int fd, const char *path, char *err, size_t err_size)
{
	struct ucred peer = {0};
	socklen_t len = sizeof(peer);

	if (fd < 0)
		return fd;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &peer, &len) < 0) {
		snprintf(err, err_size, "cannot tell who serves '%.200s': %s",
			 path, strerror(errno));
		close(fd);
		return -1;
	}
	if (peer.uid == getuid())
		return fd;
	snprintf(err, err_size,
		 "the server on '%.200s' runs as uid %u, not as you (uid %u); "
		 "set CERTPICK_SOCKET to the socket of your own certpickd",
		 path, (unsigned)peer.uid, (unsigned)getuid());
	close(fd);
	return -1;
}

int
cp_agent_connect(bool autostart, char *err, size_t err_size)
{
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	int fd;

	if (cp_agent_socket_path(path, sizeof(path), err, err_size) < 0)
		return -1;
	fd = connect_path(path);
	if (fd >= 0)
		return check_server_user(fd, path, err, err_size);
	if (autostart && (errno == ENOENT || errno == ECONNREFUSED))
		return check_server_user(start_agent(path, err, err_size), path,
					 err, err_size);

	snprintf(err, err_size,
		 "cannot connect to certpickd at '%.200s': %s; is certpickd "
		 "running?",
		 path, strerror(errno));
	return -1;
}

int
cp_send_all(int fd, const void *data, size_t len, int timeout_ms)
{
	const char *p = data;

	while (len > 0) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);

		if (n < 0) {
			struct pollfd pfd = {.fd = fd, .events = POLLOUT};

			if (errno == EINTR)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				return -1;
			if (poll(&pfd, 1, timeout_ms) == 0) {
				errno = ETIMEDOUT;
				return -1;
			}
			continue;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Reads until one whole message is decoded. Returns 0 with *out set, or -1
 * with a message in err. */
static int
read_message(int fd, struct vl_reader *reader, int timeout_ms, json_t **out,
	     char *err, size_t err_size)
{
	long deadline = timeout_ms < 0 ? 0 : monotonic_ms() + timeout_ms;
	char chunk[16384];

	for (;;) {
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		int r = vl_reader_next(reader, out);
		int wait_ms = -1;
		ssize_t n;

		if (r == 1)
			return 0;
		if (r < 0) {
			snprintf(err, err_size,
				 "invalid reply from certpickd: %s",
				 vl_status_string(r));
			return -1;
		}
		if (timeout_ms >= 0) {
			wait_ms = (int)(deadline - monotonic_ms());
			if (wait_ms < 0)
				wait_ms = 0;
		}
		r = poll(&pfd, 1, wait_ms);
		if (r < 0 && errno == EINTR)
			continue;
		if (r == 0) {
			snprintf(err, err_size,
				 "certpickd did not reply within %d ms",
				 timeout_ms);
			return -1;
		}
		n = recv(fd, chunk, sizeof(chunk), 0);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n <= 0) {
			snprintf(err, err_size,
				 "certpickd closed the connection%s%s",
				 n < 0 ? ": " : "",
				 n < 0 ? strerror(errno) : "");
			return -1;
		}
		r = vl_reader_feed(reader, chunk, (size_t)n);
		if (r < 0) {
			snprintf(err, err_size,
				 "invalid reply from certpickd: %s",
				 vl_status_string(r));
			return -1;
		}
	}
}

int
cp_agent_call(int fd, const char *method, json_t *parameters, int timeout_ms,
	      struct cp_agent_reply *reply, char *err, size_t err_size)
{
	struct vl_reader reader = {0};
	struct vl_reply parsed;
	json_t *call = vl_call_new(method, json_incref(parameters), 0);
	char *buffer = NULL;
	size_t len = 0;
	int r = -1;

	memset(reply, 0, sizeof(*reply));
	if (!call || !(buffer = vl_message_encode(call, &len))) {
		snprintf(err, err_size, "cannot encode the call to %s", method);
		goto out;
	}
	if (cp_send_all(fd, buffer, len, timeout_ms) < 0) {
		snprintf(err, err_size, "cannot send the call to %s: %s",
			 method, strerror(errno));
		goto out;
	}
	if (read_message(fd, &reader, timeout_ms, &reply->message, err,
			 err_size) < 0)
		goto out;
	if (vl_message_to_reply(reply->message, &parsed) != VL_OK) {
		snprintf(err, err_size, "invalid reply from certpickd to %s",
			 method);
		cp_agent_reply_clear(reply);
		goto out;
	}
	reply->error = parsed.error;
	reply->parameters = parsed.parameters;
	r = 0;

out:
	vl_reader_clear(&reader);
	vl_buffer_free(buffer, len);
	json_decref(call);
	return r;
}

void
cp_agent_reply_clear(struct cp_agent_reply *reply)
{
	json_decref(reply->message);
	memset(reply, 0, sizeof(*reply));
}

#define AGENT_ERROR_PREFIX "org.certpick.Agent."

static struct vl_interface *agent_interface;
static pthread_once_t agent_interface_once = PTHREAD_ONCE_INIT;

static void
parse_agent_interface(void)
{
	agent_interface = vl_interface_parse(cp_agent_interface, NULL, 0);
}

int
cp_agent_check_reply(const char *method, const char *error,
		     const json_t *parameters, char *err, size_t err_size)
{
	size_t prefix = strlen(AGENT_ERROR_PREFIX);
	char bad[256];

	pthread_once(&agent_interface_once, parse_agent_interface);
	if (!agent_interface) {
		snprintf(err, err_size,
			 "cannot check certpickd's reply to %s: out of memory",
			 method);
		return -1;
	}
	if (!error) {
		if (vl_interface_check(agent_interface, VL_CHECK_OUTPUT, method,
				       parameters, bad, sizeof(bad)) == 0)
			return 0;
		snprintf(err, err_size,
			 "certpickd sent an invalid reply to %s: the member "
			 "'%.100s' is missing or has the wrong type",
			 method, bad);
		return -1;
	}
	if (strncmp(error, AGENT_ERROR_PREFIX, prefix) != 0)
		return 0;
	if (!vl_interface_has_error(agent_interface, error + prefix)) {
		snprintf(err, err_size,
			 "certpickd answered %s with an unknown error "
			 "'%.100s'",
			 method, error);
		return -1;
	}
	if (vl_interface_check(agent_interface, VL_CHECK_ERROR, error + prefix,
			       parameters, bad, sizeof(bad)) == 0)
		return 0;
	snprintf(err, err_size,
		 "certpickd answered %s with the error %.100s, whose member "
		 "'%.100s' is missing or has the wrong type",
		 method, error, bad);
	return -1;
}
