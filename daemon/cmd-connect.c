/* certpick connect: connects to a TLS server with libcertpick, so that the
 * client certificate is the one the person chooses. It fetches an https
 * URL or joins stdin and stdout to the connection, and can time
 * handshakes. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>

#include "agent.h"
#include "certpick.h"
#include "cli.h"
#include "connect-parse.h"
#include "io.h"

/* Exit codes of certpick connect, above the shared ones. */
enum {
	EXIT_NETWORK = 3,
	EXIT_TLS = 4,
	EXIT_REJECTED = 5,
	EXIT_AGENT = 6,
	EXIT_HTTP = 7,
};

/* Longest HTTP response head (status line and headers) accepted. */
#define HTTP_HEAD_MAX (64 * 1024)

struct run {
	struct event_base *base;
	SSL_CTX *ctx;
	struct cp_connect_target target;
	char server[320]; /* HOST:PORT, or [ADDRESS]:PORT, for messages */
	struct certpick_options options;
	const char *cert_file;
	const char *ca_file; /* --ca-file, or NULL for the system's store */
	bool verbose;
	bool include;
	bool timing; /* --count was given */
	long count;
	long done;
	long started_ms;
	int exit_code;

	/* The connection in progress. */
	struct bufferevent *bev;
	struct event *stdin_event;
	bool stdin_done;
	char *label_at_open; /* copy of the label sent in the handshake */
	bool head_done;
	int http_status;
	char http_reason[64]; /* the status line's reason phrase */
	struct evbuffer *head;
};

static void
usage(FILE *out)
{
	fprintf(out,
		"usage: certpick connect [OPTION]... URL|HOST:PORT\n"
		"\n"
		"Connects to a TLS server and presents the client certificate "
		"chosen through\n"
		"certpickd. For an https:// URL, sends a GET request and "
		"prints the body. For\n"
		"HOST:PORT, copies stdin to the connection and the "
		"connection to stdout; at the\n"
		"end of stdin it sends close_notify and reads until the server "
		"closes.\n"
		"\n"
		"  --tls1.2           use TLS 1.2 only\n"
		"  --tls1.3           use TLS 1.3 only\n"
		"  --ca-file PEM      verify the server against the CA "
		"certificates in PEM\n"
		"                     (default: the system's trust store)\n"
		"  --insecure         do not verify the server's certificate\n"
		"  --cert FILE        present the certificate (and chain) in "
		"FILE, a PEM file,\n"
		"                     instead of asking certpickd\n"
		"  --key FILE         the private key for --cert (default: "
		"in the --cert file)\n"
		"  --count N          make N sequential full handshakes, "
		"without session\n"
		"                     resumption, and print the rate; with a "
		"URL each one also\n"
		"                     fetches it, and bodies are not printed\n"
		"  --timeout SECONDS  time allowed to connect and for the "
		"network part of each\n"
		"                     handshake, not counting the wait for the "
		"person's choice\n"
		"                     (default: 30)\n"
		"  -i, --include      also print the HTTP status line and "
		"headers\n"
		"  -v, --verbose      print the protocol and the certificate "
		"sent, to stderr\n"
		"  -h, --help         print this help\n"
		"\n"
		"certpickd is started when its socket ($CERTPICK_SOCKET, else\n"
		"$XDG_RUNTIME_DIR/certpick/socket) is missing.\n"
		"\n"
		"Exit status:\n"
		"  0  success\n"
		"  1  another failure, such as a file that cannot be read\n"
		"  2  invalid arguments\n"
		"  3  cannot connect: name resolution, TCP, timeout, or the "
		"server closed the\n"
		"     connection\n"
		"  4  the TLS handshake failed, including verification of the "
		"server certificate\n"
		"  5  the server rejected the client certificate, or required "
		"one and none was\n"
		"     sent\n"
		"  6  certpickd cannot be reached or failed the request\n"
		"  7  the HTTP server answered with a status of 400 or more\n");
}

static long
monotonic_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

static int
exit_code_for(int status)
{
	switch (status) {
	case CERTPICK_E_NETWORK:
	case CERTPICK_E_TIMEOUT:
		return EXIT_NETWORK;
	case CERTPICK_E_TLS:
		return EXIT_TLS;
	case CERTPICK_E_REJECTED:
		return EXIT_REJECTED;
	case CERTPICK_E_AGENT:
		return EXIT_AGENT;
	}
	return CP_EXIT_FAILURE;
}

/* Connects to one address within timeout_ms. Returns the socket, or -1
 * with errno set. */
static int
connect_address(const struct addrinfo *ai, int timeout_ms)
{
	struct pollfd pfd;
	int fd, error = 0;
	socklen_t len = sizeof(error);

	fd = socket(ai->ai_family,
		    ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK,
		    ai->ai_protocol);
	if (fd < 0)
		return -1;
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
		return fd;
	if (errno != EINPROGRESS)
		goto fail;
	pfd = (struct pollfd){.fd = fd, .events = POLLOUT};
	if (poll(&pfd, 1, timeout_ms) == 0) {
		errno = ETIMEDOUT;
		goto fail;
	}
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &len) < 0)
		goto fail;
	if (error) {
		errno = error;
		goto fail;
	}
	return fd;

fail:
	error = errno;
	close(fd);
	errno = error;
	return -1;
}

/* Resolves the target and connects to the first address that accepts. */
static int
open_tcp(const struct run *run)
{
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM};
	struct addrinfo *list, *ai;
	int r, fd = -1, error = 0;

	r = getaddrinfo(run->target.host, run->target.port, &hints, &list);
	if (r != 0) {
		fprintf(stderr, "certpick connect: cannot resolve '%s': %s\n",
			run->target.host, gai_strerror(r));
		return -1;
	}
	for (ai = list; ai && fd < 0; ai = ai->ai_next) {
		fd = connect_address(ai, run->options.timeout_ms);
		if (fd < 0)
			error = errno;
	}
	freeaddrinfo(list);
	if (fd < 0)
		fprintf(stderr, "certpick connect: cannot connect to %s: %s\n",
			run->server, strerror(error));
	return fd;
}

static void start_connection(struct run *run);

/* Compares a host that certpickd stored, in lower case and without a
 * trailing dot, with the host as the person wrote it. */
static bool
same_host(const char *stored, const char *written)
{
	size_t len = strlen(written);

	if (len > 1 && written[len - 1] == '.')
		len--;
	return strlen(stored) == len && strncasecmp(stored, written, len) == 0;
}

/* Calls method on fd and returns the array member of its reply (a new
 * reference), or NULL when the call failed. parameters may be NULL, and
 * the caller keeps its reference. */
static json_t *
list_from_agent(int fd, const char *method, json_t *parameters,
		const char *member)
{
	struct cp_agent_reply reply = {0};
	char err[256];
	json_t *list = NULL;

	if (cp_agent_call(fd, method, parameters, 5000, &reply, err,
			  sizeof(err)) < 0)
		return NULL;
	if (!reply.error)
		list = json_incref(json_object_get(reply.parameters, member));
	cp_agent_reply_clear(&reply);
	if (!json_is_array(list)) {
		json_decref(list);
		return NULL;
	}
	return list;
}

/* Whether decisions, from ListDecisions, send no certificate to the
 * target. */
static bool
declined_is_remembered(const struct run *run, json_t *decisions)
{
	json_t *decision;
	size_t i;

	json_array_foreach(decisions, i, decision)
	{
		const char *host =
			json_string_value(json_object_get(decision, "host"));
		json_int_t port =
			json_integer_value(json_object_get(decision, "port"));

		/* certpickd stores hosts in lower case, without a trailing
		 * dot. A decision without an id sends no certificate. */
		if (host && same_host(host, run->target.host) &&
		    port == (json_int_t)run->options.port &&
		    !json_is_string(json_object_get(decision, "id")))
			return true;
	}
	return false;
}

static bool
any_eligible(json_t *verdicts)
{
	json_t *verdict;
	size_t i;

	json_array_foreach(verdicts, i, verdict)
	{
		if (json_is_true(json_object_get(verdict, "eligible")))
			return true;
	}
	return false;
}

/* Prints why no certificate went to a server that then rejected the
 * connection, when a running certpickd shows a cause that is true for any
 * request: a remembered "Send No Certificate", an empty store, or a store
 * of identities that no request accepts, such as expired ones. The last
 * two show no dialog, so nothing else explains them. */
static void
print_no_certificate_hint(const struct run *run)
{
	char err[256];
	json_t *decisions, *verdicts, *server;
	int fd;

	if (run->cert_file)
		return;
	fd = cp_agent_connect(false, err, sizeof(err));
	if (fd < 0)
		return;
	decisions = list_from_agent(fd, "org.certpick.Agent.ListDecisions",
				    NULL, "decisions");
	/* Without the server's CA names, Match accepts every issuer, so an
	 * identity that it excludes is excluded for this server too. */
	server = json_pack("{s:s, s:i}", "host", run->target.host, "port",
			   (int)run->options.port);
	verdicts = server ? list_from_agent(fd, "org.certpick.Agent.Match",
					    server, "verdicts")
			  : NULL;
	json_decref(server);
	close(fd);

	if (decisions && declined_is_remembered(run, decisions))
		fprintf(stderr,
			"certpick connect: certpickd remembers \"Send No "
			"Certificate\" for this server until you log out; run "
			"'certpick forget %s' to be asked again\n",
			run->server);
	else if (verdicts && json_array_size(verdicts) == 0)
		fprintf(stderr, "certpick connect: certpickd's identity store "
				"is empty; add an identity with 'certpick "
				"import FILE'\n");
	else if (verdicts && !any_eligible(verdicts))
		fprintf(stderr,
			"certpick connect: no identity in certpickd's store "
			"can be used now (%zu in all); 'certpick match' gives "
			"the reasons\n",
			json_array_size(verdicts));
	json_decref(decisions);
	json_decref(verdicts);
}

static void
finish(struct run *run, int exit_code)
{
	if (run->stdin_event) {
		event_free(run->stdin_event);
		run->stdin_event = NULL;
	}
	if (run->bev) {
		bufferevent_free(run->bev);
		run->bev = NULL;
	}
	if (run->head) {
		evbuffer_free(run->head);
		run->head = NULL;
	}
	free(run->label_at_open);
	run->label_at_open = NULL;
	if (exit_code != CP_EXIT_OK || !run->timing ||
	    ++run->done >= run->count) {
		run->exit_code = exit_code;
		event_base_loopbreak(run->base);
		return;
	}
	start_connection(run);
}

static void
print_sent(const struct run *run, SSL *ssl, const char *when)
{
	const char *label = certpick_ssl_sent_label(ssl);

	if (run->cert_file)
		fprintf(stderr, "certpick: sent the certificate in %s%s\n",
			run->cert_file, when);
	else if (label)
		fprintf(stderr, "certpick: sent certificate '%s' (id %s)%s\n",
			label, certpick_ssl_sent_id(ssl), when);
	else
		fprintf(stderr, "certpick: sent no certificate%s\n", when);
}

/* Prints the HTTP status and which certificate was sent. A status of 400 or
 * more after a certificate request usually means that the server rejected
 * the certificate, or required one and got none. */
static void
print_http_error(const struct run *run, SSL *ssl)
{
	const char *label = certpick_ssl_sent_label(ssl);
	bool ipv6 = strchr(run->target.host, ':') != NULL;
	char sent[300];

	if (run->cert_file)
		snprintf(sent, sizeof(sent), "the certificate in %s was sent",
			 run->cert_file);
	else if (label)
		snprintf(sent, sizeof(sent),
			 "the certificate '%.200s' was sent", label);
	else
		snprintf(sent, sizeof(sent), "no client certificate was sent");
	fprintf(stderr,
		"certpick connect: %s%s%s:%s returned HTTP status %d%s%s; "
		"%s\n",
		ipv6 ? "[" : "", run->target.host, ipv6 ? "]" : "",
		run->target.port, run->http_status,
		run->http_reason[0] ? " " : "", run->http_reason, sent);
}

static bool
label_changed(const struct run *run, SSL *ssl)
{
	const char *label = certpick_ssl_sent_label(ssl);

	if (!label || !run->label_at_open)
		return label != run->label_at_open;
	return strcmp(label, run->label_at_open) != 0;
}

/* An error or the end of the connection, from the bufferevent. */
static void
on_event(struct bufferevent *bev, short what, void *arg)
{
	struct run *run = arg;
	SSL *ssl = bufferevent_openssl_get_ssl(bev);
	const char *message = certpick_bufferevent_error(bev);
	const char *label = certpick_ssl_sent_label(ssl);
	int status = certpick_ssl_status(ssl);
	unsigned long e;

	if (run->verbose && !run->cert_file && label_changed(run, ssl))
		print_sent(run, ssl, " after a post-handshake request");

	if (what & BEV_EVENT_EOF) {
		if (run->target.https && !run->head_done) {
			fprintf(stderr,
				"certpick connect: %s closed the connection "
				"before a complete HTTP response\n",
				run->server);
			finish(run, EXIT_NETWORK);
			return;
		}
		if (run->http_status >= 400) {
			print_http_error(run, ssl);
			if (!label)
				print_no_certificate_hint(run);
			finish(run, EXIT_HTTP);
			return;
		}
		finish(run, CP_EXIT_OK);
		return;
	}
	if (status != CERTPICK_OK && message) {
		fprintf(stderr, "certpick connect: %s\n", message);
		if (status == CERTPICK_E_REJECTED && !label)
			print_no_certificate_hint(run);
		finish(run, exit_code_for(status));
		return;
	}
	e = bufferevent_get_openssl_error(bev);
	if (e)
		fprintf(stderr,
			"certpick connect: connection to %s failed: "
			"%s\n",
			run->server, ERR_reason_error_string(e));
	else
		fprintf(stderr,
			"certpick connect: connection to %s failed: %s\n",
			run->server,
			errno ? strerror(errno) : "closed by the server");
	finish(run, EXIT_NETWORK);
}

/* Moves what arrived to stdout, unless only the rate is wanted. */
static void
drain_to_stdout(struct run *run, struct evbuffer *input)
{
	char chunk[16384];
	int n;

	while ((n = evbuffer_remove(input, chunk, sizeof(chunk))) > 0)
		if (!run->timing &&
		    cp_write_all(STDOUT_FILENO, chunk, (size_t)n))
			break;
}

/* Keeps the reason phrase of a status line ("HTTP/1.1 400 Bad Request"),
 * without control characters, since it comes from the server and goes to
 * the terminal. */
static void
copy_reason(struct run *run, const char *line)
{
	const char *reason = strchr(line, ' ');
	size_t n = 0;

	reason = reason ? strchr(reason + 1, ' ') : NULL;
	for (reason = reason ? reason + 1 : "";
	     *reason && n < sizeof(run->http_reason) - 1; reason++)
		run->http_reason[n++] =
			(unsigned char)*reason < 0x20 || *reason == 0x7f
				? '?'
				: *reason;
	run->http_reason[n] = '\0';
}

/* Reads the HTTP response head, then passes the body through. */
static void
on_http_read(struct bufferevent *bev, void *arg)
{
	struct run *run = arg;
	struct evbuffer *input = bufferevent_get_input(bev);
	struct evbuffer_ptr end;
	char *line;

	if (run->head_done) {
		drain_to_stdout(run, input);
		return;
	}
	end = evbuffer_search(input, "\r\n\r\n", 4, NULL);
	if (end.pos < 0) {
		if (evbuffer_get_length(input) > HTTP_HEAD_MAX) {
			fprintf(stderr,
				"certpick connect: the HTTP response head from "
				"%s is longer than %d bytes\n",
				run->target.host, HTTP_HEAD_MAX);
			finish(run, EXIT_NETWORK);
		}
		return;
	}
	evbuffer_remove_buffer(input, run->head, (size_t)end.pos + 4);
	run->head_done = true;

	line = evbuffer_readln(run->head, NULL, EVBUFFER_EOL_CRLF);
	if (!line || !cp_http_parse_status_line(line, &run->http_status)) {
		fprintf(stderr,
			"certpick connect: invalid HTTP status line from %s\n",
			run->target.host);
		free(line);
		finish(run, EXIT_NETWORK);
		return;
	}
	copy_reason(run, line);
	if (run->include && !run->timing) {
		printf("%s\r\n", line);
		fflush(stdout);
		drain_to_stdout(run, run->head);
	}
	free(line);
	drain_to_stdout(run, input);
}

static void
send_request(struct run *run)
{
	struct evbuffer *output = bufferevent_get_output(run->bev);
	bool ipv6 = strchr(run->target.host, ':') != NULL;

	/* HTTP/1.0, so that the body ends when the server closes and never
	 * comes chunked. Host takes an IPv6 address in brackets, as a URL
	 * does, and nginx returns 400 for one without them. */
	evbuffer_add_printf(
		output,
		"GET %s HTTP/1.0\r\nHost: %s%s%s%s%s\r\n"
		"User-Agent: certpick/%s\r\nAccept: */*\r\n\r\n",
		run->target.path, ipv6 ? "[" : "", run->target.host,
		ipv6 ? "]" : "", strcmp(run->target.port, "443") ? ":" : "",
		strcmp(run->target.port, "443") ? run->target.port : "",
		CERTPICK_VERSION);
	run->head = evbuffer_new();
	run->head_done = false;
	run->http_status = 0;
	certpick_bufferevent_setcb(run->bev, on_http_read, NULL, on_event, run);
	bufferevent_enable(run->bev, EV_READ | EV_WRITE);
}

static void
on_stream_read(struct bufferevent *bev, void *arg)
{
	drain_to_stdout(arg, bufferevent_get_input(bev));
}

/* After stdin ended and its bytes went out: close_notify, then wait for
 * the server to close. */
static void
on_stream_written(struct bufferevent *bev, void *arg)
{
	struct run *run = arg;

	if (run->stdin_done &&
	    evbuffer_get_length(bufferevent_get_output(bev)) == 0)
		SSL_shutdown(bufferevent_openssl_get_ssl(bev));
}

static void
end_stdin(struct run *run)
{
	run->stdin_done = true;
	if (run->stdin_event)
		event_del(run->stdin_event);
	on_stream_written(run->bev, run);
}

static void
on_stdin(evutil_socket_t fd, short what, void *arg)
{
	struct run *run = arg;
	char chunk[16384];
	ssize_t n = read(fd, chunk, sizeof(chunk));

	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	if (n <= 0) {
		end_stdin(run);
		return;
	}
	bufferevent_write(run->bev, chunk, (size_t)n);
}

/* epoll cannot watch regular files, so a file on stdin is sent whole. */
static void
start_stream(struct run *run)
{
	struct stat st;

	certpick_bufferevent_setcb(run->bev, on_stream_read, on_stream_written,
				   on_event, run);
	bufferevent_enable(run->bev, EV_READ | EV_WRITE);
	if (fstat(STDIN_FILENO, &st) == 0 && S_ISREG(st.st_mode)) {
		char chunk[16384];
		ssize_t n;

		while ((n = read(STDIN_FILENO, chunk, sizeof(chunk))) > 0)
			bufferevent_write(run->bev, chunk, (size_t)n);
		end_stdin(run);
		return;
	}
	run->stdin_event = event_new(run->base, STDIN_FILENO,
				     EV_READ | EV_PERSIST, on_stdin, run);
	if (!run->stdin_event || event_add(run->stdin_event, NULL) < 0)
		end_stdin(run);
}

/* The start of libcertpick's message for a failed server verification. */
#define VERIFY_FAILED "cannot verify the certificate of "

/* Says what to do when the server's certificate chain was not trusted. A
 * name or address mismatch (OpenSSL's "hostname mismatch") needs no CA. */
static void
print_verify_hint(const struct run *run, const char *message)
{
	if (strstr(message, "mismatch"))
		return;
	if (run->ca_file)
		fprintf(stderr,
			"certpick connect: check that %s contains the CA "
			"certificates that issued the server's certificate\n",
			run->ca_file);
	else
		fprintf(stderr,
			"certpick connect: the system's trust store does not "
			"contain the server's CA; give its CA certificates "
			"with --ca-file PEM\n");
}

static void
on_connected(struct bufferevent *bev, int status, const char *message,
	     void *arg)
{
	struct run *run = arg;
	SSL *ssl;

	if (status != CERTPICK_OK) {
		fprintf(stderr, "certpick connect: %s\n", message);
		if (strncmp(message, VERIFY_FAILED, strlen(VERIFY_FAILED)) == 0)
			print_verify_hint(run, message);
		if (status == CERTPICK_E_REJECTED)
			print_no_certificate_hint(run);
		finish(run, exit_code_for(status));
		return;
	}
	run->bev = bev;
	ssl = bufferevent_openssl_get_ssl(bev);
	if (certpick_ssl_sent_label(ssl))
		run->label_at_open = strdup(certpick_ssl_sent_label(ssl));
	if (run->verbose) {
		fprintf(stderr, "certpick: connected to %s with %s, %s\n",
			run->server, SSL_get_version(ssl),
			SSL_get_cipher_name(ssl));
		print_sent(run, ssl, "");
	}
	bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);

	if (run->target.https)
		send_request(run);
	else if (run->timing)
		finish(run, CP_EXIT_OK);
	else
		start_stream(run);
}

static void
start_connection(struct run *run)
{
	int fd = open_tcp(run);

	if (fd < 0) {
		finish(run, EXIT_NETWORK);
		return;
	}
	if (!certpick_connect(run->base, run->ctx, fd, &run->options,
			      on_connected, run)) {
		fprintf(stderr, "certpick connect: cannot start the TLS "
				"handshake: out of memory\n");
		finish(run, CP_EXIT_FAILURE);
	}
}

static int
print_openssl_error(const char *what, const char *file)
{
	unsigned long e = ERR_peek_last_error();

	fprintf(stderr, "certpick connect: cannot load %s '%s': %s\n", what,
		file, e ? ERR_reason_error_string(e) : "unknown error");
	return -1;
}

/* --cert: the certificate and chain from one PEM file, the key from the
 * same file or from key_file. */
static int
use_local_certificate(struct run *run, const char *key_file)
{
	EVP_PKEY *key;
	FILE *file;
	int ok;

	if (!SSL_CTX_use_certificate_chain_file(run->ctx, run->cert_file))
		return print_openssl_error("certificate", run->cert_file);
	if (!key_file)
		key_file = run->cert_file;
	file = fopen(key_file, "r");
	if (!file) {
		fprintf(stderr, "certpick connect: cannot open '%s': %s\n",
			key_file, strerror(errno));
		return -1;
	}
	key = PEM_read_PrivateKey(file, NULL, NULL, NULL);
	fclose(file);
	if (!key)
		return print_openssl_error("private key", key_file);
	if (!X509_check_private_key(SSL_CTX_get0_certificate(run->ctx), key)) {
		fprintf(stderr,
			"certpick connect: the key in '%s' does not belong to "
			"the certificate in '%s'\n",
			key_file, run->cert_file);
		EVP_PKEY_free(key);
		return -1;
	}
	ok = SSL_CTX_use_PrivateKey(run->ctx, key);
	EVP_PKEY_free(key);
	return ok ? 0 : print_openssl_error("private key", key_file);
}

/* Versions, server verification, no session resumption, and the client
 * certificate: from a file, or through certpickd. */
static int
setup_ctx(struct run *run, int version, const char *ca_file, bool insecure,
	  const char *key_file)
{
	char err[512];

	run->ctx = SSL_CTX_new(TLS_client_method());
	if (!run->ctx)
		return -1;
	if (version) {
		SSL_CTX_set_min_proto_version(run->ctx, version);
		SSL_CTX_set_max_proto_version(run->ctx, version);
	}
	SSL_CTX_set_session_cache_mode(run->ctx, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_options(run->ctx, SSL_OP_NO_TICKET);

	if (insecure) {
		SSL_CTX_set_verify(run->ctx, SSL_VERIFY_NONE, NULL);
	} else {
		SSL_CTX_set_verify(run->ctx, SSL_VERIFY_PEER, NULL);
		if (!ca_file && !SSL_CTX_set_default_verify_paths(run->ctx))
			return print_openssl_error("CA certificates",
						   "the system trust store");
		if (ca_file &&
		    !SSL_CTX_load_verify_locations(run->ctx, ca_file, NULL))
			return print_openssl_error("CA certificates", ca_file);
	}

	/* The providers load in both modes, so that --cert measures the same
	 * client apart from where the key is. */
	if (certpick_init(err, sizeof(err)) < 0) {
		fprintf(stderr, "certpick connect: %s\n", err);
		return -1;
	}
	if (!run->cert_file) {
		if (certpick_setup_ctx(run->ctx, err, sizeof(err)) < 0) {
			fprintf(stderr, "certpick connect: %s\n", err);
			return -1;
		}
		return 0;
	}
	return use_local_certificate(run, key_file);
}

static int
parse_number(const char *option, const char *text, long max, long *out)
{
	char *end;

	errno = 0;
	*out = strtol(text, &end, 10);
	if (errno || *end || end == text || *out < 1 || *out > max) {
		fprintf(stderr,
			"certpick connect: invalid %s '%.100s'; expected a "
			"whole number from 1 to %ld\n",
			option, text, max);
		return -1;
	}
	return 0;
}

enum {
	OPT_TLS12 = 256,
	OPT_TLS13,
	OPT_CA_FILE,
	OPT_INSECURE,
	OPT_CERT,
	OPT_KEY,
	OPT_COUNT,
	OPT_TIMEOUT,
};

static const struct option long_options[] = {
	{"tls1.2", no_argument, NULL, OPT_TLS12},
	{"tls1.3", no_argument, NULL, OPT_TLS13},
	{"ca-file", required_argument, NULL, OPT_CA_FILE},
	{"insecure", no_argument, NULL, OPT_INSECURE},
	{"cert", required_argument, NULL, OPT_CERT},
	{"key", required_argument, NULL, OPT_KEY},
	{"count", required_argument, NULL, OPT_COUNT},
	{"timeout", required_argument, NULL, OPT_TIMEOUT},
	{"include", no_argument, NULL, 'i'},
	{"verbose", no_argument, NULL, 'v'},
	{"help", no_argument, NULL, 'h'},
	{NULL, 0, NULL, 0},
};

int
cmd_connect(int argc, char **argv)
{
	struct run run = {.count = 1};
	const char *ca_file = NULL, *key_file = NULL;
	bool insecure = false;
	long timeout_s = CERTPICK_DEFAULT_TIMEOUT_MS / 1000;
	int version = 0, option;
	long started;

	while ((option = getopt_long(argc, argv, "ivh", long_options, NULL)) !=
	       -1) {
		switch (option) {
		case OPT_TLS12:
		case OPT_TLS13:
			if (version) {
				fprintf(stderr,
					"certpick connect: give at most "
					"one of --tls1.2 and --tls1.3\n");
				return CP_EXIT_USAGE;
			}
			version = option == OPT_TLS12 ? TLS1_2_VERSION
						      : TLS1_3_VERSION;
			break;
		case OPT_CA_FILE:
			ca_file = optarg;
			break;
		case OPT_INSECURE:
			insecure = true;
			break;
		case OPT_CERT:
			run.cert_file = optarg;
			break;
		case OPT_KEY:
			key_file = optarg;
			break;
		case OPT_COUNT:
			if (parse_number("--count", optarg, 1000000,
					 &run.count) < 0)
				return CP_EXIT_USAGE;
			run.timing = true;
			break;
		case OPT_TIMEOUT:
			if (parse_number("--timeout", optarg, 86400,
					 &timeout_s) < 0)
				return CP_EXIT_USAGE;
			break;
		case 'i':
			run.include = true;
			break;
		case 'v':
			run.verbose = true;
			break;
		case 'h':
			usage(stdout);
			return CP_EXIT_OK;
		default:
			usage(stderr);
			return CP_EXIT_USAGE;
		}
	}
	if (optind != argc - 1) {
		fprintf(stderr, "certpick connect: %s\n",
			optind == argc ? "the URL or HOST:PORT is missing"
				       : "give one URL or HOST:PORT");
		usage(stderr);
		return CP_EXIT_USAGE;
	}
	if (key_file && !run.cert_file) {
		fprintf(stderr, "certpick connect: --key needs --cert\n");
		return CP_EXIT_USAGE;
	}
	if (insecure && ca_file) {
		fprintf(stderr, "certpick connect: give at most one of "
				"--insecure and --ca-file\n");
		return CP_EXIT_USAGE;
	}
	if (cp_connect_parse_target(argv[optind], &run.target) < 0)
		return CP_EXIT_USAGE;
	snprintf(run.server, sizeof(run.server),
		 strchr(run.target.host, ':') ? "[%s]:%s" : "%s:%s",
		 run.target.host, run.target.port);

	run.ca_file = ca_file;
	run.options.host = run.target.host;
	run.options.port = (unsigned)atoi(run.target.port);
	run.options.flags = CERTPICK_AUTOSTART;
	run.options.timeout_ms = (int)(timeout_s * 1000);
	run.base = event_base_new();
	if (!run.base ||
	    setup_ctx(&run, version, ca_file, insecure, key_file) < 0) {
		if (run.ctx)
			SSL_CTX_free(run.ctx);
		if (run.base)
			event_base_free(run.base);
		return CP_EXIT_FAILURE;
	}

	started = monotonic_ms();
	start_connection(&run);
	if (!run.done && run.exit_code == CP_EXIT_OK)
		event_base_dispatch(run.base);
	if (run.timing && run.exit_code == CP_EXIT_OK) {
		double seconds = (double)(monotonic_ms() - started) / 1000.0;

		printf("%ld handshakes in %.3f s: %.1f handshakes/s\n",
		       run.done, seconds,
		       seconds > 0 ? (double)run.done / seconds : 0.0);
	}

	SSL_CTX_free(run.ctx);
	event_base_free(run.base);
	return run.exit_code;
}
