/* The picker's Varlink server; see picker-server.h. */
#include "picker-server.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gio/gio.h>
#include <glib-unix.h>

#include "interfaces.h"
#include "varlink-idl.h"
#include "varlink.h"

#define PICKER_INTERFACE "org.certpick.Picker"
#define SERVICE_INTERFACE "org.varlink.service"

/* Bytes read from the socket at a time. */
#define READ_CHUNK (64 * 1024)

/* The standard interface that every Varlink service implements, with the
 * methods and errors of the Varlink specification. */
static const char service_interface[] =
	"# The Varlink service interface.\n"
	"interface org.varlink.service\n"
	"\n"
	"# The service and the interfaces it implements.\n"
	"method GetInfo() -> (\n"
	"\tvendor: string,\n"
	"\tproduct: string,\n"
	"\tversion: string,\n"
	"\turl: string,\n"
	"\tinterfaces: []string\n"
	")\n"
	"\n"
	"# The definition text of one interface.\n"
	"method GetInterfaceDescription(interface: string) -> "
	"(description: string)\n"
	"\n"
	"error InterfaceNotFound (interface: string)\n"
	"error MethodNotFound (method: string)\n"
	"error MethodNotImplemented (method: string)\n"
	"error InvalidParameter (parameter: string)\n"
	"error PermissionDenied ()\n"
	"error ExpectedMore ()\n";

struct picker_call {
	char *interface;
	char *method; /* the short name */
	bool oneway;
	bool done;
	char *reply; /* encoded, NUL included */
	size_t reply_len;
};

/* An encoded message that is partly written. */
struct output {
	char *data;
	size_t len;
	size_t written;
};

struct picker_server {
	int fd;
	guint read_source;
	guint write_source;
	bool closed;
	struct vl_reader reader;
	GQueue calls;  /* struct picker_call, in the order received */
	GQueue output; /* struct output, to be written in order */
	struct vl_interface *picker;
	struct vl_interface *service;
	struct picker_server_handlers handlers;
	void *user_data;
};

static void
call_free(struct picker_call *call)
{
	vl_buffer_free(call->reply, call->reply_len);
	g_free(call->interface);
	g_free(call->method);
	g_free(call);
}

static void
output_free(struct output *output)
{
	vl_buffer_free(output->data, output->len);
	g_free(output);
}

static void
server_stop(struct picker_server *server)
{
	g_clear_handle_id(&server->read_source, g_source_remove);
	g_clear_handle_id(&server->write_source, g_source_remove);
	if (server->fd >= 0)
		close(server->fd);
	server->fd = -1;
	server->closed = true;
}

/* Ends the connection, once, and calls the disconnected handler. */
static void
server_disconnect(struct picker_server *server, bool failed)
{
	if (server->closed)
		return;
	server_stop(server);
	server->handlers.disconnected(failed, server->user_data);
}

static gboolean on_writable(int fd, GIOCondition condition, void *data);

/* Writes what the socket takes now, and waits for it to take the rest. */
static void
server_write(struct picker_server *server)
{
	struct output *output;

	while ((output = g_queue_peek_head(&server->output))) {
		ssize_t n = send(server->fd, output->data + output->written,
				 output->len - output->written, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (n < 0) {
			/* certpickd has exited, which ends the picker's
			 * work but is not a failure of the picker. */
			g_debug("Sending to certpickd failed: %s",
				g_strerror(errno));
			server_disconnect(server, false);
			return;
		}
		output->written += (size_t)n;
		if (output->written == output->len)
			output_free(g_queue_pop_head(&server->output));
	}

	if (g_queue_is_empty(&server->output))
		g_clear_handle_id(&server->write_source, g_source_remove);
	else if (!server->write_source)
		server->write_source = g_unix_fd_add(server->fd, G_IO_OUT,
						     on_writable, server);
}

static gboolean
on_writable(int fd, GIOCondition condition, void *data)
{
	struct picker_server *server = data;

	server->write_source = 0;
	server_write(server);
	return G_SOURCE_REMOVE;
}

/* Moves the replies of the completed calls at the head of the queue to
 * the output, keeping the order of the calls. */
static void
server_flush(struct picker_server *server)
{
	struct picker_call *call;

	while ((call = g_queue_peek_head(&server->calls)) && call->done) {
		g_queue_pop_head(&server->calls);
		if (!call->oneway && call->reply) {
			struct output *output = g_new0(struct output, 1);

			output->data = g_steal_pointer(&call->reply);
			output->len = call->reply_len;
			g_queue_push_tail(&server->output, output);
		}
		call_free(call);
	}
	if (!server->closed)
		server_write(server);
}

/* Stores the reply or error message of call and sends what is ready. */
static void
call_complete(struct picker_server *server, struct picker_call *call,
	      json_t *message)
{
	g_return_if_fail(!call->done);

	call->done = true;
	if (message)
		call->reply = vl_message_encode(message, &call->reply_len);
	json_decref(message);
	if (!call->reply && !call->oneway) {
		/* certpickd would wait for this reply forever. */
		g_warning("Closing the connection to certpickd: the reply to "
			  "%s cannot be encoded (out of memory?)",
			  call->method);
		server_disconnect(server, true);
	}

	if (server->closed) {
		g_queue_remove(&server->calls, call);
		call_free(call);
		return;
	}
	server_flush(server);
}

/* Warns when the picker's own message breaks the interface: a bug here,
 * which certpickd would reject. */
static void
check_own_message(struct picker_server *server, struct picker_call *call,
		  enum vl_check what, const char *name, json_t *parameters)
{
	const struct vl_interface *interface = NULL;
	char bad[256];

	if (strcmp(call->interface, PICKER_INTERFACE) == 0)
		interface = server->picker;
	else if (strcmp(call->interface, SERVICE_INTERFACE) == 0)
		interface = server->service;
	if (!interface || !vl_interface_has_method(interface, call->method))
		return;
	if (what == VL_CHECK_ERROR && !vl_interface_has_error(interface, name))
		return;
	if (vl_interface_check(interface, what, name, parameters, bad,
			       sizeof(bad)) != 0)
		g_critical("The picker's reply to %s breaks the interface at "
			   "%s",
			   call->method, bad);
}

void
picker_server_reply(struct picker_server *server, struct picker_call *call,
		    json_t *parameters)
{
	if (!parameters)
		parameters = json_object();
	check_own_message(server, call, VL_CHECK_OUTPUT, call->method,
			  parameters);
	call_complete(server, call, vl_reply_new(parameters, false));
}

void
picker_server_fail(struct picker_server *server, struct picker_call *call,
		   const char *error, json_t *parameters)
{
	const char *dot = strrchr(error, '.');

	if (!parameters)
		parameters = json_object();
	if (dot)
		check_own_message(server, call, VL_CHECK_ERROR, dot + 1,
				  parameters);
	g_debug("%s fails with %s", call->method, error);
	call_complete(server, call, vl_error_new(error, parameters));
}

static void
fail_with_string(struct picker_server *server, struct picker_call *call,
		 const char *error, const char *key, const char *value)
{
	picker_server_fail(server, call, error, json_pack("{ss}", key, value));
}

static void
serve_get_info(struct picker_server *server, struct picker_call *call)
{
	/* NOTE: certpick has no public web page yet, so url is empty. */
	json_t *parameters = json_pack(
		"{ss ss ss ss s[ss]}", "vendor", "certpick", "product",
		"certpick-picker", "version", CERTPICK_VERSION, "url", "",
		"interfaces", SERVICE_INTERFACE, PICKER_INTERFACE);

	picker_server_reply(server, call, parameters);
}

static void
serve_get_interface_description(struct picker_server *server,
				struct picker_call *call,
				const json_t *parameters)
{
	const char *name =
		json_string_value(json_object_get(parameters, "interface"));
	const char *description = NULL;

	if (strcmp(name, PICKER_INTERFACE) == 0)
		description = vl_interface_description(server->picker);
	else if (strcmp(name, SERVICE_INTERFACE) == 0)
		description = vl_interface_description(server->service);
	if (!description) {
		fail_with_string(server, call, VL_ERROR_INTERFACE_NOT_FOUND,
				 "interface", name);
		return;
	}
	picker_server_reply(server, call,
			    json_pack("{ss}", "description", description));
}

static void
serve_picker(struct picker_server *server, struct picker_call *call,
	     const json_t *parameters)
{
	if (strcmp(call->method, "Choose") == 0) {
		server->handlers.choose(call, parameters, server->user_data);
	} else if (strcmp(call->method, "Close") == 0) {
		const json_t *dialog = json_object_get(parameters, "dialog");
		const json_t *reason = json_object_get(parameters, "reason");

		server->handlers.close(json_integer_value(dialog),
				       json_string_value(reason),
				       server->user_data);
		picker_server_reply(server, call, NULL);
	} else {
		fail_with_string(server, call, VL_ERROR_METHOD_NOT_IMPLEMENTED,
				 "method", call->method);
	}
}

/* Checks a call against its interface and hands it to its method. */
static void
serve_call(struct picker_server *server, struct picker_call *call,
	   const char *full_name, json_t *parameters)
{
	struct vl_interface *interface = NULL;
	char bad[256];

	if (strcmp(call->interface, PICKER_INTERFACE) == 0)
		interface = server->picker;
	else if (strcmp(call->interface, SERVICE_INTERFACE) == 0)
		interface = server->service;
	if (!interface) {
		fail_with_string(server, call, VL_ERROR_INTERFACE_NOT_FOUND,
				 "interface", call->interface);
		return;
	}
	if (!vl_interface_has_method(interface, call->method)) {
		fail_with_string(server, call, VL_ERROR_METHOD_NOT_FOUND,
				 "method", full_name);
		return;
	}
	if (vl_interface_check(interface, VL_CHECK_INPUT, call->method,
			       parameters, bad, sizeof(bad)) != 0) {
		g_info("Rejecting %.100s: invalid parameter %s", full_name,
		       bad);
		fail_with_string(server, call, VL_ERROR_INVALID_PARAMETER,
				 "parameter", bad);
		return;
	}

	g_debug("Serving %s", full_name);
	if (interface == server->picker)
		serve_picker(server, call, parameters);
	else if (strcmp(call->method, "GetInfo") == 0)
		serve_get_info(server, call);
	else
		serve_get_interface_description(server, call, parameters);
}

/* Serves one decoded message. Returns false when it was not a call, which
 * ends the connection. */
static bool
serve_message(struct picker_server *server, json_t *message)
{
	struct vl_call decoded;
	struct picker_call *call;
	const char *dot;

	if (vl_message_to_call(message, &decoded) != VL_OK) {
		g_warning("Closing the connection to certpickd: it sent a "
			  "message that is not a Varlink call");
		return false;
	}
	dot = strrchr(decoded.method, '.');
	if (!dot || dot == decoded.method || !dot[1]) {
		g_warning("Closing the connection to certpickd: it called "
			  "\"%.100s\", which is not an interface.method name",
			  decoded.method);
		return false;
	}

	call = g_new0(struct picker_call, 1);
	call->interface = g_strndup(decoded.method, dot - decoded.method);
	call->method = g_strdup(dot + 1);
	call->oneway = decoded.flags & VL_CALL_ONEWAY;
	g_queue_push_tail(&server->calls, call);
	serve_call(server, call, decoded.method, decoded.parameters);
	return true;
}

/* Serves every whole message that the reader holds. */
static void
serve_buffered(struct picker_server *server)
{
	json_t *message;
	int r;

	while (!server->closed &&
	       (r = vl_reader_next(&server->reader, &message)) != 0) {
		bool served;

		if (r < 0) {
			g_warning("Closing the connection to certpickd: %s",
				  vl_status_string(r));
			server_disconnect(server, true);
			return;
		}
		served = serve_message(server, message);
		json_decref(message);
		if (!served) {
			server_disconnect(server, true);
			return;
		}
	}
}

static gboolean
on_readable(int fd, GIOCondition condition, void *data)
{
	struct picker_server *server = data;
	g_autofree char *chunk = g_malloc(READ_CHUNK);
	ssize_t n;
	int r;

	do
		n = recv(fd, chunk, READ_CHUNK, 0);
	while (n < 0 && errno == EINTR);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
		return G_SOURCE_CONTINUE;
	if (n <= 0) {
		if (n < 0)
			g_warning("Reading from certpickd failed: %s",
				  g_strerror(errno));
		else if (vl_reader_has_partial(&server->reader))
			g_warning("certpickd closed the connection in the "
				  "middle of a message");
		else
			g_debug("certpickd closed the connection");
		server->read_source = 0;
		server_disconnect(server, n < 0);
		return G_SOURCE_REMOVE;
	}

	r = vl_reader_feed(&server->reader, chunk, (size_t)n);
	if (r != VL_OK) {
		g_warning("Closing the connection to certpickd: %s",
			  vl_status_string(r));
		server->read_source = 0;
		server_disconnect(server, true);
		return G_SOURCE_REMOVE;
	}
	serve_buffered(server);
	return server->closed ? G_SOURCE_REMOVE : G_SOURCE_CONTINUE;
}

struct picker_server *
picker_server_new(int fd, const struct picker_server_handlers *handlers,
		  void *user_data, GError **error)
{
	struct picker_server *server;
	char message[256];

	if (!g_unix_set_fd_nonblocking(fd, TRUE, error))
		return NULL;
	if (fcntl(fd, F_SETFD, FD_CLOEXEC) < 0) {
		g_set_error(error, G_IO_ERROR, g_io_error_from_errno(errno),
			    "Cannot set close-on-exec on fd %d: %s", fd,
			    g_strerror(errno));
		return NULL;
	}

	server = g_new0(struct picker_server, 1);
	server->fd = fd;
	g_queue_init(&server->calls);
	g_queue_init(&server->output);
	server->handlers = *handlers;
	server->user_data = user_data;

	server->picker = vl_interface_parse(cp_picker_interface, message,
					    sizeof(message));
	if (server->picker)
		server->service = vl_interface_parse(service_interface, message,
						     sizeof(message));
	if (!server->service) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
			    "Invalid interface definition: %s", message);
		server->fd = -1;
		picker_server_free(server);
		return NULL;
	}

	server->read_source = g_unix_fd_add(fd, G_IO_IN | G_IO_HUP | G_IO_ERR,
					    on_readable, server);
	return server;
}

void
picker_server_free(struct picker_server *server)
{
	if (!server)
		return;
	if (!server->closed)
		server_stop(server);
	g_queue_clear_full(&server->calls, (GDestroyNotify)call_free);
	g_queue_clear_full(&server->output, (GDestroyNotify)output_free);
	vl_reader_clear(&server->reader);
	vl_interface_free(server->picker);
	vl_interface_free(server->service);
	g_free(server);
}
