/* A TLS client for the tests of libcertpick. It fetches "GET /" over one
 * or more connections in a row and prints each response to stdout. It
 * uses either certificate callback, and any of the three ways to wait for
 * certpickd: the libevent driver, blocking, or poll on the agent socket.
 *
 *   tls-client [--entry cert_cb|client_cert_cb] [--mode event|blocking|poll]
 *              [--continue-without-agent] [--connections N] [--wait-between]
 *              [--tls1.2|--tls1.3] [--reuse-ssl] --ca-file PEM HOST PORT
 *
 * --reuse-ssl (blocking and poll modes) keeps one SSL for every connection
 * and calls SSL_clear between them, as programs that recycle SSL objects
 * do.
 *
 * --wait-between reads a line from stdin before each connection after the
 * first, so that a test can change things in between.
 *
 * Exits 0, or with the certpick connect exit codes: 3 network, 4 TLS,
 * 5 rejected, 6 certpickd, 1 other. */
#include <errno.h>
#include <getopt.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "certpick.h"

#define REQUEST "GET / HTTP/1.0\r\n\r\n"

enum mode { MODE_EVENT, MODE_BLOCKING, MODE_POLL };

struct client {
	SSL_CTX *ctx;
	const char *host;
	unsigned port;
	enum mode mode;
	unsigned flags;
	int exit_code;
	int index; /* of the connection in progress, from 1 */
	struct event_base *base;
	bool reuse_ssl;
	SSL *ssl; /* kept between connections with reuse_ssl */
};

static int
exit_code_for(int status)
{
	switch (status) {
	case CERTPICK_OK:
		return 0;
	case CERTPICK_E_NETWORK:
	case CERTPICK_E_TIMEOUT:
		return 3;
	case CERTPICK_E_TLS:
		return 4;
	case CERTPICK_E_REJECTED:
		return 5;
	case CERTPICK_E_AGENT:
		return 6;
	}
	return 1;
}

static int
open_tcp(const struct client *client)
{
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM};
	struct addrinfo *list;
	char port[8];
	int fd;

	snprintf(port, sizeof(port), "%u", client->port);
	if (getaddrinfo(client->host, port, &hints, &list) != 0)
		return -1;
	fd = socket(list->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd >= 0 && connect(fd, list->ai_addr, list->ai_addrlen) < 0) {
		close(fd);
		fd = -1;
	}
	freeaddrinfo(list);
	return fd;
}

static void
print_sent(SSL *ssl, int index)
{
	const char *label = certpick_ssl_sent_label(ssl);
	const char *none_reason = certpick_ssl_none_reason(ssl);

	printf("=== connection %d: sent %s\n", index, label ? label : "none");
	if (none_reason)
		printf("none reason: %s\n", none_reason);
	fflush(stdout);
}

/* The libevent driver. */

static void
on_read(struct bufferevent *bev, void *arg)
{
	struct evbuffer *input = bufferevent_get_input(bev);

	evbuffer_write(input, STDOUT_FILENO);
}

static void
on_event(struct bufferevent *bev, short what, void *arg)
{
	struct client *client = arg;
	SSL *ssl = bufferevent_openssl_get_ssl(bev);

	if (!(what & BEV_EVENT_EOF)) {
		const char *message = certpick_bufferevent_error(bev);
		int status = certpick_ssl_status(ssl);

		fprintf(stderr, "tls-client: %s\n",
			message ? message : "connection failed");
		client->exit_code =
			status ? exit_code_for(status) : exit_code_for(3);
	}
	bufferevent_free(bev);
	event_base_loopbreak(client->base);
}

static void
on_connected(struct bufferevent *bev, int status, const char *message,
	     void *arg)
{
	struct client *client = arg;

	if (status != CERTPICK_OK) {
		fprintf(stderr, "tls-client: %s\n", message);
		client->exit_code = exit_code_for(status);
		event_base_loopbreak(client->base);
		return;
	}
	print_sent(bufferevent_openssl_get_ssl(bev), client->index);
	bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
	certpick_bufferevent_setcb(bev, on_read, NULL, on_event, client);
	bufferevent_write(bev, REQUEST, strlen(REQUEST));
	bufferevent_enable(bev, EV_READ | EV_WRITE);
}

static void
run_event(struct client *client, int fd)
{
	struct certpick_options options = {
		.host = client->host,
		.port = client->port,
		.flags = client->flags,
		.timeout_ms = 10000,
	};

	if (!certpick_connect(client->base, client->ctx, fd, &options,
			      on_connected, client)) {
		client->exit_code = 1;
		return;
	}
	event_base_dispatch(client->base);
}

/* Blocking and poll modes: the program drives the SSL itself. */

static int
wait_fd(int fd, short events)
{
	struct pollfd pfd = {.fd = fd, .events = events};

	return poll(&pfd, 1, 10000) == 1 ? 0 : -1;
}

/* Repeats an SSL call until it succeeds or fails for good, waiting on the
 * socket or on certpickd. Returns the call's result. */
static int
drive(struct client *client, SSL *ssl, int fd, int (*call)(SSL *, void *),
      void *arg)
{
	for (;;) {
		int r = call(ssl, arg), error;

		if (r > 0)
			return r;
		error = SSL_get_error(ssl, r);
		if (client->mode == MODE_BLOCKING)
			return r;
		if (error == SSL_ERROR_WANT_READ && wait_fd(fd, POLLIN) == 0)
			continue;
		if (error == SSL_ERROR_WANT_WRITE && wait_fd(fd, POLLOUT) == 0)
			continue;
		if (error == SSL_ERROR_WANT_X509_LOOKUP) {
			int agent = certpick_ssl_agent_fd(ssl);

			while (agent >= 0 && wait_fd(agent, POLLIN) == 0 &&
			       certpick_ssl_process(ssl) == 0)
				;
			continue;
		}
		return r;
	}
}

static int
call_connect(SSL *ssl, void *arg)
{
	return SSL_connect(ssl);
}

static int
call_write(SSL *ssl, void *arg)
{
	return SSL_write(ssl, REQUEST, (int)strlen(REQUEST));
}

static int
call_read(SSL *ssl, void *arg)
{
	return SSL_read(ssl, arg, 16384);
}

static void
fail_ssl(struct client *client, SSL *ssl, int fallback)
{
	const char *message;
	int status;

	certpick_ssl_check_rejection(ssl);
	message = certpick_ssl_error(ssl);
	status = certpick_ssl_status(ssl);
	if (!message) {
		unsigned long e = ERR_peek_last_error();

		message = e ? ERR_reason_error_string(e) : "connection failed";
	}
	fprintf(stderr, "tls-client: %s\n", message);
	client->exit_code = status ? exit_code_for(status) : fallback;
}

static void
run_direct(struct client *client, int fd, int index)
{
	struct certpick_options options = {
		.host = client->host,
		.port = client->port,
		.flags = client->flags,
	};
	char buffer[16384];
	int n;
	/* A new SSL for every connection, so no earlier choice carries
	 * over, unless the test checks that SSL_clear drops it. */
	SSL *ssl = client->ssl && SSL_clear(client->ssl) ? client->ssl
							 : SSL_new(client->ctx);

	if (client->mode == MODE_BLOCKING)
		options.flags |= CERTPICK_BLOCKING;
	else
		evutil_make_socket_nonblocking(fd);
	if (!ssl || certpick_ssl_setup(ssl, &options) < 0 ||
	    !SSL_set_fd(ssl, fd)) {
		client->exit_code = 1;
		goto out;
	}
	if (drive(client, ssl, fd, call_connect, NULL) <= 0) {
		fail_ssl(client, ssl, 4);
		goto out;
	}

	/* client_cert_cb cannot fail the handshake when certpickd fails;
	 * the program checks afterwards. */
	if (certpick_ssl_status(ssl) == CERTPICK_E_AGENT &&
	    !(client->flags & CERTPICK_CONTINUE_WITHOUT_AGENT)) {
		fail_ssl(client, ssl, 6);
		goto out;
	}
	print_sent(ssl, index);
	if (drive(client, ssl, fd, call_write, NULL) <= 0) {
		fail_ssl(client, ssl, 3);
		goto out;
	}
	while ((n = drive(client, ssl, fd, call_read, buffer)) > 0)
		fwrite(buffer, 1, (size_t)n, stdout);
	if (SSL_get_error(ssl, n) != SSL_ERROR_ZERO_RETURN &&
	    SSL_get_error(ssl, n) != SSL_ERROR_SYSCALL)
		fail_ssl(client, ssl, 3);
	else if (certpick_ssl_check_rejection(ssl))
		fail_ssl(client, ssl, 5);

out:
	fflush(stdout);
	if (client->reuse_ssl && ssl && client->exit_code == 0) {
		SSL_shutdown(ssl);
		client->ssl = ssl;
	} else {
		if (ssl == client->ssl)
			client->ssl = NULL;
		SSL_free(ssl);
	}
	close(fd);
}

static enum mode
parse_mode(const char *name)
{
	if (strcmp(name, "blocking") == 0)
		return MODE_BLOCKING;
	if (strcmp(name, "poll") == 0)
		return MODE_POLL;
	return MODE_EVENT;
}

int
main(int argc, char **argv)
{
	static const struct option options[] = {
		{"entry", required_argument, NULL, 'e'},
		{"mode", required_argument, NULL, 'm'},
		{"continue-without-agent", no_argument, NULL, 'c'},
		{"connections", required_argument, NULL, 'n'},
		{"wait-between", no_argument, NULL, 'w'},
		{"tls1.2", no_argument, NULL, '2'},
		{"tls1.3", no_argument, NULL, '3'},
		{"ca-file", required_argument, NULL, 'a'},
		{"reuse-ssl", no_argument, NULL, 'r'},
		{NULL, 0, NULL, 0},
	};
	struct client client = {0};
	const char *entry = "cert_cb", *ca_file = NULL;
	int connections = 1, version = 0, option;
	bool wait_between = false;
	char err[256];

	while ((option = getopt_long(argc, argv, "", options, NULL)) != -1) {
		switch (option) {
		case 'e':
			entry = optarg;
			break;
		case 'm':
			client.mode = parse_mode(optarg);
			break;
		case 'c':
			client.flags |= CERTPICK_CONTINUE_WITHOUT_AGENT;
			break;
		case 'n':
			connections = atoi(optarg);
			break;
		case 'w':
			wait_between = true;
			break;
		case '2':
			version = TLS1_2_VERSION;
			break;
		case '3':
			version = TLS1_3_VERSION;
			break;
		case 'a':
			ca_file = optarg;
			break;
		case 'r':
			client.reuse_ssl = true;
			break;
		default:
			return 2;
		}
	}
	if (optind != argc - 2 || !ca_file) {
		fprintf(stderr, "usage: tls-client [OPTION]... --ca-file PEM "
				"HOST PORT\n");
		return 2;
	}
	client.host = argv[optind];
	client.port = (unsigned)atoi(argv[optind + 1]);

	client.ctx = SSL_CTX_new(TLS_client_method());
	client.base = event_base_new();
	if (!client.ctx || !client.base ||
	    !SSL_CTX_load_verify_locations(client.ctx, ca_file, NULL))
		return 1;
	SSL_CTX_set_verify(client.ctx, SSL_VERIFY_PEER, NULL);
	if (version) {
		SSL_CTX_set_min_proto_version(client.ctx, version);
		SSL_CTX_set_max_proto_version(client.ctx, version);
	}
	if (strcmp(entry, "client_cert_cb") == 0) {
		if (certpick_init(err, sizeof(err)) < 0) {
			fprintf(stderr, "tls-client: %s\n", err);
			return 1;
		}
		SSL_CTX_set_client_cert_cb(client.ctx, certpick_client_cert_cb);
	} else if (certpick_setup_ctx(client.ctx, err, sizeof(err)) < 0) {
		fprintf(stderr, "tls-client: %s\n", err);
		return 1;
	}

	for (int i = 1; i <= connections && client.exit_code == 0; i++) {
		char line[64];
		int fd;

		if (wait_between && i > 1 && !fgets(line, sizeof(line), stdin))
			break;
		fd = open_tcp(&client);

		if (fd < 0) {
			fprintf(stderr, "tls-client: cannot connect to %s:%u\n",
				client.host, client.port);
			client.exit_code = 3;
			break;
		}
		client.index = i;
		if (client.mode == MODE_EVENT)
			run_event(&client, fd);
		else
			run_direct(&client, fd, i);
	}

	SSL_free(client.ssl);
	SSL_CTX_free(client.ctx);
	event_base_free(client.base);
	return client.exit_code;
}
