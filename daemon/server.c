/* certpickd's Varlink server on libevent bufferevents. */
#include "server.h"

#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/listener.h>

#include "daemon-limits.h"
#include "log.h"
#include "text.h"
#include "varlink-event.h"
#include "varlink.h"

#define SERVICE_INTERFACE "org.varlink.service"

/* org.varlink.service as the Varlink specification defines it, parsed so
 * that its calls are checked like any other. */
static const char service_description[] =
	"# The interface that every Varlink service provides.\n"
	"interface org.varlink.service\n"
	"\n"
	"# Describes the service and lists its interfaces.\n"
	"method GetInfo() -> (\n"
	"\tvendor: string,\n"
	"\tproduct: string,\n"
	"\tversion: string,\n"
	"\turl: string,\n"
	"\tinterfaces: []string\n"
	")\n"
	"\n"
	"# Returns the definition of one of the service's interfaces.\n"
	"method GetInterfaceDescription(interface: string) -> "
	"(description: string)\n"
	"\n"
	"error InterfaceNotFound (interface: string)\n"
	"error MethodNotFound (method: string)\n"
	"error MethodNotImplemented (method: string)\n"
	"error InvalidParameter (parameter: string)\n"
	"error PermissionDenied ()\n"
	"error ExpectedMore ()\n";

/* At most this many warnings about misbehaving peers per second; the
 * others are counted and the count logged with the next one. */
#define PEER_WARNINGS_PER_SECOND 10

struct cp_call {
	struct cp_conn *conn;
	char *method;
	bool oneway, more, done;
	/* Encoded messages not yet moved to the output, in order. Their
	 * bytes count against CP_OUTPUT_BUFFER_MAX like the output's, so
	 * replies held back behind an unfinished call are bounded too. */
	struct evbuffer *pending;
	TAILQ_ENTRY(cp_call) link;
};

struct cp_conn {
	struct cp_server *server;
	struct bufferevent *bev;
	pid_t pid;
	uid_t uid;
	char *command, *executable;
	void *data;
	bool over_limit;  /* replies LimitReached to its first call */
	bool read_eof;	  /* the peer shut down its sending side */
	bool closing;	  /* closes once its output is written */
	bool dead;	  /* closes at the next turn of the event loop */
	bool processing;  /* inside process_input */
	bool held_back;	  /* complete messages wait for a limit to clear */
	unsigned n_calls; /* unanswered calls */
	size_t scanned;	  /* input bytes known to hold no NUL */
	/* Bytes in the pending buffers of its calls. */
	size_t held_bytes;
	struct event *partial_timer;
	/* Runs at the next turn of the event loop: frees a dead connection,
	 * or takes the input that a limit held back. Replies never run
	 * handlers directly, so a handler cannot run inside another. */
	struct event *deferred;
	TAILQ_HEAD(, cp_call) calls;
	LIST_ENTRY(cp_conn) link;
};

struct cp_server {
	struct event_base *base;
	struct evconnlistener *listener;
	const struct cp_server_config *config;
	struct vl_interface *service;
	unsigned n_conns, n_overflow;
	unsigned connections_max;
	bool listener_paused;
	time_t warning_second;
	unsigned warnings_this_second, warnings_suppressed;
	LIST_HEAD(, cp_conn) conns;
};

static void conn_free(struct cp_conn *conn);
static void conn_flush(struct cp_conn *conn);
static void process_input(struct cp_conn *conn);
static bool may_take_input(const struct cp_conn *conn);

/* Logs a warning about a peer unless too many were logged this second. */
static void peer_warning(struct cp_server *server, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void
peer_warning(struct cp_server *server, const char *fmt, ...)
{
	time_t now = time(NULL);
	char message[512];
	va_list ap;

	if (now != server->warning_second) {
		server->warning_second = now;
		server->warnings_this_second = 0;
	}
	if (++server->warnings_this_second > PEER_WARNINGS_PER_SECOND) {
		server->warnings_suppressed++;
		return;
	}
	va_start(ap, fmt);
	vsnprintf(message, sizeof(message), fmt, ap);
	va_end(ap);
	if (server->warnings_suppressed) {
		log_warning("%s (%u similar warnings suppressed)", message,
			    server->warnings_suppressed);
		server->warnings_suppressed = 0;
	} else {
		log_warning("%s", message);
	}
}

pid_t
cp_conn_pid(const struct cp_conn *conn)
{
	return conn->pid;
}

uid_t
cp_conn_uid(const struct cp_conn *conn)
{
	return conn->uid;
}

/* Reads /proc/PID/comm and /proc/PID/exe once. The pid is the one the
 * kernel recorded at connect time, so a peer that exited and whose pid was
 * reused would show the new process. The names are only shown to the
 * person and logged; no access decision depends on them. */
static void
read_peer_names(struct cp_conn *conn)
{
	char path[64], buffer[4096];
	ssize_t n;
	FILE *f;

	if (conn->command)
		return;
	buffer[0] = '\0';
	snprintf(path, sizeof(path), "/proc/%d/comm", (int)conn->pid);
	f = fopen(path, "re");
	if (f) {
		if (!fgets(buffer, sizeof(buffer), f))
			buffer[0] = '\0';
		fclose(f);
	}
	/* A process names itself and its executable's path as it likes,
	 * and both go to the picker as JSON strings, which must be UTF-8. */
	buffer[strcspn(buffer, "\n")] = '\0';
	conn->command =
		cp_text_printable(buffer, strlen(buffer), sizeof(buffer));

	snprintf(path, sizeof(path), "/proc/%d/exe", (int)conn->pid);
	n = readlink(path, buffer, sizeof(buffer) - 1);
	conn->executable = cp_text_printable(buffer, n > 0 ? (size_t)n : 0,
					     sizeof(buffer));
}

const char *
cp_conn_command(struct cp_conn *conn)
{
	read_peer_names(conn);
	return conn->command ? conn->command : "";
}

const char *
cp_conn_executable(struct cp_conn *conn)
{
	read_peer_names(conn);
	return conn->executable ? conn->executable : "";
}

struct cp_conn *
cp_call_conn(const struct cp_call *call)
{
	return call->conn;
}

const char *
cp_call_method(const struct cp_call *call)
{
	return call->method;
}

bool
cp_call_more(const struct cp_call *call)
{
	return call->more;
}

/* Closes the connection at the next turn of the event loop, so that a
 * caller in the middle of walking its calls is not pulled from under. */
static void
conn_close_soon(struct cp_conn *conn)
{
	if (conn->dead)
		return;
	conn->dead = true;
	bufferevent_disable(conn->bev, EV_READ | EV_WRITE);
	event_active(conn->deferred, 0, 0);
}

static void
deferred_cb(evutil_socket_t fd, short what, void *arg)
{
	struct cp_conn *conn = arg;

	if (conn->dead) {
		conn_free(conn);
		return;
	}
	process_input(conn);
	conn_flush(conn);
}

/* Checks an outgoing message against the interface, so that a reply that
 * breaks the contract shows up in the log rather than at a client. */
static void
check_outgoing(struct cp_conn *conn, const char *method, json_t *msg)
{
	const struct vl_interface *iface = conn->server->config->interface;
	const char *iface_name = vl_interface_name(iface);
	size_t len = strlen(iface_name);
	struct vl_reply reply;
	char bad[256];

	if (strncmp(method, iface_name, len) != 0 || method[len] != '.')
		return;
	if (vl_message_to_reply(msg, &reply) != VL_OK)
		return;
	if (!reply.error) {
		if (vl_interface_check(iface, VL_CHECK_OUTPUT, method + len + 1,
				       reply.parameters, bad, sizeof(bad)) < 0)
			log_error("reply to %s breaks the interface at '%s'",
				  method, bad);
		return;
	}
	if (strncmp(reply.error, iface_name, len) == 0 &&
	    reply.error[len] == '.' &&
	    vl_interface_check(iface, VL_CHECK_ERROR, reply.error + len + 1,
			       reply.parameters, bad, sizeof(bad)) < 0)
		log_error("error %s breaks the interface at '%s'", reply.error,
			  bad);
}

/* Returns the number of reply bytes that the connection keeps because the
 * socket has not taken them yet. */
static size_t
conn_buffered(const struct cp_conn *conn)
{
	return evbuffer_get_length(bufferevent_get_output(conn->bev)) +
	       conn->held_bytes;
}

static int queue_too_large(struct cp_call *call, json_t *msg);

/* Encodes msg into the call's pending buffer and frees msg. */
static void
call_queue_message(struct cp_call *call, json_t *msg)
{
	size_t before = evbuffer_get_length(call->pending);
	int r;

	if (!msg) {
		log_error("out of memory building the reply to %s",
			  call->method);
		conn_close_soon(call->conn);
		return;
	}
	check_outgoing(call->conn, call->method, msg);
	errno = 0;
	r = vl_evbuffer_add(call->pending, msg);
	if (r < 0 && errno == EMSGSIZE)
		r = queue_too_large(call, msg);
	json_decref(msg);
	call->conn->held_bytes += evbuffer_get_length(call->pending) - before;
	if (r < 0) {
		log_error("cannot queue the reply to %s: %s", call->method,
			  errno == EMSGSIZE
				  ? "it exceeds the maximum message size"
				  : "out of memory");
		conn_close_soon(call->conn);
	}
}

static void
call_free(struct cp_call *call)
{
	struct cp_conn *conn = call->conn;

	TAILQ_REMOVE(&conn->calls, call, link);
	conn->n_calls--;
	conn->held_bytes -= evbuffer_get_length(call->pending);
	evbuffer_free(call->pending);
	free(call->method);
	free(call);
}

static void
call_finish(struct cp_call *call, json_t *msg)
{
	struct cp_conn *conn = call->conn;

	if (call->done) {
		log_error("a second reply to %s was dropped", call->method);
		json_decref(msg);
		return;
	}
	call->done = true;
	if (call->oneway || conn->dead)
		json_decref(msg);
	else
		call_queue_message(call, msg);
	conn_flush(conn);
}

void
cp_call_reply(struct cp_call *call, json_t *parameters)
{
	call_finish(call, vl_reply_new(parameters, false));
}

void
cp_call_error(struct cp_call *call, const char *error, json_t *parameters)
{
	log_debug("pid %d: %s failed with %s", (int)call->conn->pid,
		  call->method, error);
	call_finish(call, vl_error_new(error, parameters));
}

int
cp_call_continue(struct cp_call *call, json_t *parameters)
{
	struct cp_conn *conn = call->conn;

	if (conn->dead || call->done) {
		json_decref(parameters);
		return conn->dead ? -1 : 0;
	}
	if (conn_buffered(conn) > CP_OUTPUT_BUFFER_MAX) {
		json_decref(parameters);
		peer_warning(conn->server,
			     "closing the connection of pid %d uid %u: it "
			     "left more than %d bytes of replies unread",
			     (int)conn->pid, (unsigned)conn->uid,
			     CP_OUTPUT_BUFFER_MAX);
		conn_close_soon(conn);
		return -1;
	}
	if (!call->oneway)
		call_queue_message(call, vl_reply_new(parameters, true));
	else
		json_decref(parameters);
	conn_flush(conn);
	return conn->dead ? -1 : 0;
}

void
cp_call_agent_error(struct cp_call *call, const char *name, json_t *parameters)
{
	char error[128];

	snprintf(error, sizeof(error), "%s.%s",
		 vl_interface_name(call->conn->server->config->interface),
		 name);
	cp_call_error(call, error, parameters);
}

void
cp_call_invalid_parameter(struct cp_call *call, const char *parameter)
{
	cp_call_error(call, VL_ERROR_INVALID_PARAMETER,
		      json_pack("{s:s}", "parameter", parameter));
}

/* Queues LimitReached "message-size" in place of a final reply that does
 * not fit in a message, such as the identities of a store of several
 * hundred, so that the client learns why. Returns -1 for a reply that
 * continues a stream, which an error would end early. */
static int
queue_too_large(struct cp_call *call, json_t *msg)
{
	struct cp_conn *conn = call->conn;
	char error[128];
	json_t *limit;
	int r;

	if (json_is_true(json_object_get(msg, "continues")))
		return -1;
	log_warning("the reply to %s for pid %d is larger than %d bytes; "
		    "it gets LimitReached instead",
		    call->method, (int)conn->pid, VL_MESSAGE_MAX);
	snprintf(error, sizeof(error), "%s.LimitReached",
		 vl_interface_name(conn->server->config->interface));
	limit = vl_error_new(error,
			     json_pack("{s:s, s:i}", "limit", "message-size",
				       "max", VL_MESSAGE_MAX));
	r = limit ? vl_evbuffer_add(call->pending, limit) : -1;
	json_decref(limit);
	return r;
}

/* Moves the call's pending messages to the output. When nothing is queued
 * there, they go straight to the socket first, which saves arming the
 * write event, waiting for it and disarming it: three system calls per
 * reply. A send error other than EAGAIN leaves the messages in the output,
 * where the bufferevent's next write finds the error. */
static int
call_move_pending(struct cp_call *call, struct evbuffer *output,
		  evutil_socket_t fd)
{
	size_t len = evbuffer_get_length(call->pending);
	int r;

	if (len == 0)
		return 0;
	if (evbuffer_get_length(output) == 0)
		evbuffer_write(call->pending, fd);
	r = evbuffer_add_buffer(output, call->pending);
	call->conn->held_bytes -= len - evbuffer_get_length(call->pending);
	return r;
}

/* Writes the messages of the calls at the head of the queue. A call's
 * replies may only go out once every earlier call has its final reply,
 * because Varlink replies carry no call id. Oneway calls send nothing, so
 * they do not hold back later ones. */
static void
conn_flush(struct cp_conn *conn)
{
	struct evbuffer *output = bufferevent_get_output(conn->bev);
	evutil_socket_t fd = bufferevent_getfd(conn->bev);
	struct cp_call *call, *next;

	if (conn->dead)
		return;
	for (call = TAILQ_FIRST(&conn->calls); call; call = next) {
		next = TAILQ_NEXT(call, link);
		if (call_move_pending(call, output, fd) < 0) {
			log_error("cannot send the reply to %s: out of memory",
				  call->method);
			conn_close_soon(conn);
			return;
		}
		if (call->done)
			call_free(call);
		else if (!call->oneway)
			break;
	}
	if (conn->held_back && !conn->processing && may_take_input(conn))
		event_active(conn->deferred, 0, 0);
	if ((conn->closing || conn->read_eof) && TAILQ_EMPTY(&conn->calls) &&
	    evbuffer_get_length(output) == 0)
		conn_close_soon(conn);
}

static json_t *
get_info(struct cp_server *server)
{
	return json_pack("{s:s, s:s, s:s, s:s, s:[s, s]}", "vendor", "certpick",
			 "product", "certpickd", "version",
			 server->config->version, "url", "", "interfaces",
			 SERVICE_INTERFACE,
			 vl_interface_name(server->config->interface));
}

static void
run_service_method(struct cp_call *call, const char *name, json_t *parameters)
{
	struct cp_server *server = call->conn->server;
	const char *wanted;

	if (strcmp(name, "GetInfo") == 0) {
		cp_call_reply(call, get_info(server));
		return;
	}
	if (strcmp(name, "GetInterfaceDescription") != 0) {
		cp_call_error(call, VL_ERROR_METHOD_NOT_IMPLEMENTED,
			      json_pack("{s:s}", "method", call->method));
		return;
	}
	wanted = json_string_value(json_object_get(parameters, "interface"));
	if (strcmp(wanted, SERVICE_INTERFACE) == 0)
		cp_call_reply(call, json_pack("{s:s}", "description",
					      service_description));
	else if (strcmp(wanted, vl_interface_name(server->config->interface)) ==
		 0)
		cp_call_reply(call,
			      json_pack("{s:s}", "description",
					vl_interface_description(
						server->config->interface)));
	else
		cp_call_error(call, VL_ERROR_INTERFACE_NOT_FOUND,
			      json_pack("{s:s}", "interface", wanted));
}

static const struct cp_method *
find_method(const struct cp_server_config *config, const char *name)
{
	for (size_t i = 0; i < config->n_methods; i++)
		if (strcmp(config->methods[i].name, name) == 0)
			return &config->methods[i];
	return NULL;
}

/* Finds the interface and method a call names and checks its parameters.
 * Returns the method's short name with *iface set, or NULL after replying
 * with the error itself. */
static const char *
resolve_call(struct cp_call *call, json_t *parameters,
	     const struct vl_interface **iface)
{
	struct cp_server *server = call->conn->server;
	const char *dot = strrchr(call->method, '.');
	char bad[256];
	size_t len;

	if (!dot || dot == call->method) {
		cp_call_error(call, VL_ERROR_INTERFACE_NOT_FOUND,
			      json_pack("{s:s}", "interface", call->method));
		return NULL;
	}
	len = (size_t)(dot - call->method);
	if (strlen(SERVICE_INTERFACE) == len &&
	    strncmp(call->method, SERVICE_INTERFACE, len) == 0) {
		*iface = server->service;
	} else if (strlen(vl_interface_name(server->config->interface)) ==
			   len &&
		   strncmp(call->method,
			   vl_interface_name(server->config->interface),
			   len) == 0) {
		*iface = server->config->interface;
	} else {
		json_t *name = json_stringn(call->method, len);

		cp_call_error(call, VL_ERROR_INTERFACE_NOT_FOUND,
			      json_pack("{s:o}", "interface", name));
		return NULL;
	}
	if (!vl_interface_has_method(*iface, dot + 1)) {
		cp_call_error(call, VL_ERROR_METHOD_NOT_FOUND,
			      json_pack("{s:s}", "method", call->method));
		return NULL;
	}
	if (vl_interface_check(*iface, VL_CHECK_INPUT, dot + 1, parameters, bad,
			       sizeof(bad)) < 0) {
		log_debug("pid %d: invalid parameter '%.100s' in %s",
			  (int)call->conn->pid, bad, call->method);
		cp_call_invalid_parameter(call, bad);
		return NULL;
	}
	return dot + 1;
}

static void
dispatch(struct cp_call *call, json_t *parameters)
{
	struct cp_conn *conn = call->conn;
	const struct vl_interface *iface;
	const struct cp_method *method;
	const char *name;

	if (conn->over_limit) {
		/* Set first: the reply may be written at once, and the
		 * connection closes when it has been. */
		conn->closing = true;
		cp_call_agent_error(
			call, "LimitReached",
			json_pack("{s:s, s:i}", "limit", "connections", "max",
				  (int)conn->server->connections_max));
		return;
	}
	name = resolve_call(call, parameters, &iface);
	if (!name)
		return;
	if (iface == conn->server->service) {
		run_service_method(call, name, parameters);
		return;
	}
	method = find_method(conn->server->config, name);
	if (!method) {
		cp_call_error(call, VL_ERROR_METHOD_NOT_IMPLEMENTED,
			      json_pack("{s:s}", "method", call->method));
		return;
	}
	method->run(call, parameters, conn->data);
}

/* Turns one decoded message into a call and runs it. Returns -1 when the
 * message is not a call, which closes the connection. */
static int
handle_message(struct cp_conn *conn, json_t *msg)
{
	struct vl_call parsed;
	struct cp_call *call;

	if (vl_message_to_call(msg, &parsed) != VL_OK)
		return -1;
	call = calloc(1, sizeof(*call));
	if (!call || !(call->method = strdup(parsed.method)) ||
	    !(call->pending = evbuffer_new())) {
		if (call)
			free(call->method);
		free(call);
		return -1;
	}
	call->conn = conn;
	call->oneway = parsed.flags & VL_CALL_ONEWAY;
	call->more = parsed.flags & VL_CALL_MORE;
	TAILQ_INSERT_TAIL(&conn->calls, call, link);
	conn->n_calls++;
	log_debug("pid %d: call %.100s%s", (int)conn->pid, call->method,
		  call->more ? " (more)" : "");
	dispatch(call, parsed.parameters);
	return 0;
}

static bool
may_take_input(const struct cp_conn *conn)
{
	return !conn->dead && !conn->closing &&
	       conn->n_calls < CP_CALLS_PER_CONNECTION_MAX &&
	       conn_buffered(conn) <= CP_OUTPUT_BUFFER_MAX;
}

/* Arms the partial-message timer when the input ends in part of a message,
 * keeping its first deadline while more bytes of the same message come. */
static void
update_partial_timer(struct cp_conn *conn, bool took_message)
{
	struct evbuffer *input = bufferevent_get_input(conn->bev);
	struct timeval timeout = {CP_PARTIAL_MESSAGE_SECONDS, 0};

	if (took_message || evbuffer_get_length(input) == 0 ||
	    !may_take_input(conn))
		event_del(conn->partial_timer);
	if (evbuffer_get_length(input) > 0 && may_take_input(conn) &&
	    !event_pending(conn->partial_timer, EV_TIMEOUT, NULL))
		event_add(conn->partial_timer, &timeout);
}

static void
process_input(struct cp_conn *conn)
{
	struct evbuffer *input = bufferevent_get_input(conn->bev);
	bool took_message = false;

	conn->processing = true;
	conn->held_back = false;
	for (;;) {
		json_t *msg;
		int r;

		if (!may_take_input(conn)) {
			conn->held_back = !conn->dead;
			break;
		}
		r = vl_evbuffer_next_scan(input, &conn->scanned, &msg);
		if (r == 0)
			break;
		if (r < 0) {
			peer_warning(conn->server,
				     "closing the connection of pid %d uid %u: "
				     "%s",
				     (int)conn->pid, (unsigned)conn->uid,
				     vl_status_string(r));
			conn_close_soon(conn);
			break;
		}
		took_message = true;
		if (handle_message(conn, msg) < 0) {
			const char *problem = vl_call_problem(msg);

			peer_warning(
				conn->server,
				"closing the connection of pid %d uid %u: "
				"the message is not a valid Varlink call%s%s",
				(int)conn->pid, (unsigned)conn->uid,
				problem ? ": " : "", problem ? problem : "");
			conn_close_soon(conn);
		}
		json_decref(msg);
	}
	conn->processing = false;
	if (conn->dead)
		return;

	if (conn->read_eof && evbuffer_get_length(input) > 0 &&
	    evbuffer_search(input, "", 1, NULL).pos < 0) {
		evbuffer_drain(input, evbuffer_get_length(input));
		conn->scanned = 0;
	}
	if (!conn->read_eof) {
		if (may_take_input(conn))
			bufferevent_enable(conn->bev, EV_READ);
		else
			bufferevent_disable(conn->bev, EV_READ);
	}
	update_partial_timer(conn, took_message);
}

static void
conn_read_cb(struct bufferevent *bev, void *arg)
{
	process_input(arg);
}

static void
conn_write_cb(struct bufferevent *bev, void *arg)
{
	conn_flush(arg);
}

/* Returns true when the peer closed its socket completely rather than only
 * its sending side: the kernel then reports POLLHUP, while a peer that
 * called shutdown(SHUT_WR) still waits for replies. */
static bool
peer_gone(struct cp_conn *conn)
{
	struct pollfd pfd = {.fd = bufferevent_getfd(conn->bev),
			     .events = POLLOUT};

	return poll(&pfd, 1, 0) <= 0 || (pfd.revents & (POLLHUP | POLLERR));
}

static void
conn_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct cp_conn *conn = arg;

	if ((what & BEV_EVENT_EOF) && !(what & BEV_EVENT_ERROR) &&
	    !peer_gone(conn)) {
		log_debug("pid %d: end of input; replying to its calls",
			  (int)conn->pid);
		conn->read_eof = true;
		process_input(conn);
		conn_flush(conn);
		return;
	}
	if (what & BEV_EVENT_ERROR)
		log_debug("pid %d: connection error: %s", (int)conn->pid,
			  strerror(EVUTIL_SOCKET_ERROR()));
	else
		log_debug("pid %d: disconnected", (int)conn->pid);
	conn_free(conn);
}

static void
partial_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct cp_conn *conn = arg;

	peer_warning(conn->server,
		     "closing the connection of pid %d uid %u: a message "
		     "stayed incomplete for %d seconds",
		     (int)conn->pid, (unsigned)conn->uid,
		     CP_PARTIAL_MESSAGE_SECONDS);
	conn_free(conn);
}

static void
conn_free(struct cp_conn *conn)
{
	struct cp_server *server = conn->server;
	struct cp_call *call;

	if (conn->data)
		server->config->conn_close(conn, conn->data,
					   server->config->arg);
	while ((call = TAILQ_FIRST(&conn->calls)))
		call_free(call);
	LIST_REMOVE(conn, link);
	if (conn->over_limit)
		server->n_overflow--;
	else
		server->n_conns--;
	event_free(conn->partial_timer);
	event_free(conn->deferred);
	bufferevent_free(conn->bev);
	free(conn->command);
	free(conn->executable);
	free(conn);

	/* A listener paused on a descriptor shortage resumes once one is
	 * free again. */
	if (server->listener_paused) {
		server->listener_paused = false;
		evconnlistener_enable(server->listener);
	}
}

static struct cp_conn *
conn_new(struct cp_server *server, int fd, const struct ucred *peer,
	 bool over_limit)
{
	struct cp_conn *conn = calloc(1, sizeof(*conn));

	if (!conn)
		return NULL;
	conn->server = server;
	conn->pid = peer->pid;
	conn->uid = peer->uid;
	conn->over_limit = over_limit;
	TAILQ_INIT(&conn->calls);
	conn->bev =
		bufferevent_socket_new(server->base, fd, BEV_OPT_CLOSE_ON_FREE);
	conn->partial_timer = evtimer_new(server->base, partial_timer_cb, conn);
	conn->deferred = event_new(server->base, -1, 0, deferred_cb, conn);
	if (!conn->bev || !conn->partial_timer || !conn->deferred) {
		if (conn->bev)
			bufferevent_free(conn->bev);
		else
			close(fd);
		if (conn->partial_timer)
			event_free(conn->partial_timer);
		if (conn->deferred)
			event_free(conn->deferred);
		free(conn);
		return NULL;
	}

	/* Reading stops at the message size limit, so a peer can make the
	 * daemon buffer no more than that. */
	bufferevent_setwatermark(conn->bev, EV_READ, 0, VL_MESSAGE_MAX);
	bufferevent_setcb(conn->bev, conn_read_cb, conn_write_cb, conn_event_cb,
			  conn);
	bufferevent_enable(conn->bev, EV_READ);
	return conn;
}

static void
accept_cb(struct evconnlistener *listener, evutil_socket_t fd,
	  struct sockaddr *addr, int addr_len, void *arg)
{
	struct cp_server *server = arg;
	struct ucred peer = {0};
	socklen_t len = sizeof(peer);
	struct cp_conn *conn;
	bool over_limit = false;

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &peer, &len) < 0) {
		log_warning("closing a connection whose peer is unknown: "
			    "SO_PEERCRED failed: %s",
			    strerror(errno));
		close(fd);
		return;
	}
	if (peer.uid != getuid()) {
		peer_warning(server,
			     "rejected a connection from pid %d uid %u: only "
			     "uid %u may use this agent",
			     (int)peer.pid, (unsigned)peer.uid,
			     (unsigned)getuid());
		close(fd);
		return;
	}
	if (server->n_conns >= server->connections_max) {
		if (server->n_overflow >= CP_CONNECTIONS_OVERFLOW_MAX) {
			peer_warning(server,
				     "closing a connection from pid %d uid %u: "
				     "%u connections are open, the maximum",
				     (int)peer.pid, (unsigned)peer.uid,
				     server->connections_max);
			close(fd);
			return;
		}
		peer_warning(server,
			     "connection from pid %d uid %u is over the limit "
			     "of %u connections; it gets LimitReached",
			     (int)peer.pid, (unsigned)peer.uid,
			     server->connections_max);
		over_limit = true;
	}

	conn = conn_new(server, fd, &peer, over_limit);
	if (!conn) {
		log_error("out of memory accepting a connection from pid %d",
			  (int)peer.pid);
		return;
	}
	LIST_INSERT_HEAD(&server->conns, conn, link);
	if (over_limit) {
		server->n_overflow++;
	} else {
		server->n_conns++;
		conn->data =
			server->config->conn_open(conn, server->config->arg);
		if (!conn->data) {
			log_error("out of memory accepting a connection from "
				  "pid %d",
				  (int)peer.pid);
			conn_free(conn);
			return;
		}
	}
	log_debug("pid %d: connected", (int)peer.pid);
}

static void
accept_error_cb(struct evconnlistener *listener, void *arg)
{
	struct cp_server *server = arg;
	int error = EVUTIL_SOCKET_ERROR();

	/* With no descriptor left, the pending connection stays readable
	 * and accept would fail in a loop: wait for a connection to close. */
	if ((error == EMFILE || error == ENFILE) && server->n_conns > 0) {
		log_warning("cannot accept connections: %s; waiting for one "
			    "to close",
			    strerror(error));
		server->listener_paused = true;
		evconnlistener_disable(listener);
		return;
	}
	log_warning("cannot accept a connection: %s", strerror(error));
}

/* Lowers the connection limit to what RLIMIT_NOFILE leaves room for,
 * keeping descriptors for the store, the picker and the journal. */
static unsigned
connections_max_for_fds(void)
{
	const long reserve = 64 + CP_CONNECTIONS_OVERFLOW_MAX;
	long open_max = sysconf(_SC_OPEN_MAX);

	if (open_max < 0 || open_max - reserve >= CP_CONNECTIONS_MAX)
		return CP_CONNECTIONS_MAX;
	if (open_max - reserve < 16)
		return 16;
	log_notice("RLIMIT_NOFILE allows %ld descriptors: accepting at most "
		   "%ld connections instead of %d",
		   open_max, open_max - reserve, CP_CONNECTIONS_MAX);
	return (unsigned)(open_max - reserve);
}

struct cp_server *
cp_server_new(struct event_base *base, int listen_fd,
	      const struct cp_server_config *config, char *err, size_t err_size)
{
	struct cp_server *server = calloc(1, sizeof(*server));
	char parse_error[256];

	if (!server) {
		snprintf(err, err_size, "out of memory");
		close(listen_fd);
		return NULL;
	}
	server->base = base;
	server->config = config;
	server->connections_max = connections_max_for_fds();
	LIST_INIT(&server->conns);
	server->service = vl_interface_parse(service_description, parse_error,
					     sizeof(parse_error));
	if (!server->service) {
		snprintf(err, err_size, "org.varlink.service: %s", parse_error);
		close(listen_fd);
		free(server);
		return NULL;
	}
	server->listener = evconnlistener_new(
		base, accept_cb, server,
		LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, 0, listen_fd);
	if (!server->listener) {
		snprintf(err, err_size, "cannot listen: %s", strerror(errno));
		close(listen_fd);
		vl_interface_free(server->service);
		free(server);
		return NULL;
	}
	evconnlistener_set_error_cb(server->listener, accept_error_cb);
	return server;
}

void
cp_server_stop_listening(struct cp_server *server)
{
	if (server->listener) {
		evconnlistener_free(server->listener);
		server->listener = NULL;
		server->listener_paused = false;
	}
}

static bool
outputs_pending(const struct cp_server *server)
{
	const struct cp_conn *conn;

	LIST_FOREACH(conn, &server->conns, link)
	{
		if (!conn->dead &&
		    evbuffer_get_length(bufferevent_get_output(conn->bev)) > 0)
			return true;
	}
	return false;
}

/* Runs the event loop until the replies buffered for every connection are
 * written (the last ones before the daemon exits) or timeout_ms passed.
 * No further calls are read meanwhile. */
static void
drain_outputs(struct cp_server *server, int timeout_ms)
{
	struct timeval timeout = {timeout_ms / 1000,
				  (timeout_ms % 1000) * 1000};
	struct cp_conn *conn;

	LIST_FOREACH(conn, &server->conns, link)
	{
		conn->closing = true;
		bufferevent_disable(conn->bev, EV_READ);
	}
	if (!outputs_pending(server))
		return;
	event_base_loopexit(server->base, &timeout);
	while (outputs_pending(server)) {
		event_base_loop(server->base, EVLOOP_ONCE);
		if (event_base_got_exit(server->base) ||
		    event_base_got_break(server->base))
			break;
	}
}

void
cp_server_free(struct cp_server *server, int timeout_ms)
{
	struct cp_conn *conn;

	if (!server)
		return;
	cp_server_stop_listening(server);
	drain_outputs(server, timeout_ms);
	while ((conn = LIST_FIRST(&server->conns)))
		conn_free(conn);
	vl_interface_free(server->service);
	free(server);
}
