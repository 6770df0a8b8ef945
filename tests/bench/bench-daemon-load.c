/* A load generator for certpickd: CLIENTS connections each call Select in
 * a loop, and the latency of every call is recorded. Used by
 * bench-daemon.py.
 *
 *   bench-daemon-load SOCKET HOST PORT CLIENTS SECONDS [RATE]
 *
 * Without RATE (or with 0) each connection sends its next call as soon as
 * the reply to the last one arrives (a closed loop: throughput). With RATE,
 * the connections together send RATE calls per second on a fixed schedule,
 * and latency counts from the scheduled time, so a slow reply also delays
 * the calls behind it in the figures (an open loop). Prints one line of
 * key=value pairs. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

struct client {
	int fd;
	double sent_at;	  /* scheduled or actual send time, seconds */
	double next_send; /* open loop: when to send next */
	bool waiting;	  /* a call is in flight */
	size_t reply_len; /* bytes of the current reply seen so far */
	bool reply_error;
};

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int
compare_doubles(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static int
connect_socket(const char *path)
{
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", path);
	if (fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
		fprintf(stderr, "bench-daemon-load: cannot connect to %s: %s\n",
			path, strerror(errno));
		exit(1);
	}
	return fd;
}

static void
send_call(struct client *c, const char *call, size_t len, double at)
{
	if (send(c->fd, call, len, MSG_NOSIGNAL) != (ssize_t)len) {
		fprintf(stderr, "bench-daemon-load: send failed: %s\n",
			strerror(errno));
		exit(1);
	}
	c->sent_at = at;
	c->waiting = true;
	c->reply_len = 0;
	c->reply_error = false;
}

/* Reads what the socket has; returns true when a whole reply arrived. */
static bool
read_reply(struct client *c)
{
	char buffer[65536];
	ssize_t n = recv(c->fd, buffer, sizeof(buffer), 0);

	if (n <= 0) {
		fprintf(stderr, "bench-daemon-load: certpickd closed a "
				"connection\n");
		exit(1);
	}
	if (c->reply_len == 0 && memmem(buffer, (size_t)n, "\"error\"", 7))
		c->reply_error = true;
	c->reply_len += (size_t)n;
	return buffer[n - 1] == '\0';
}

int
main(int argc, char **argv)
{
	const char *path, *host;
	struct client *clients;
	size_t n_latencies = 0, cap = 1 << 20, errors = 0;
	double *latencies, start, end, rate = 0;
	int port, n_clients, seconds, ep, timer;
	char call[512];
	size_t call_len;

	if (argc < 6 || argc > 7) {
		fprintf(stderr, "usage: bench-daemon-load SOCKET HOST PORT "
				"CLIENTS SECONDS [RATE]\n");
		return 2;
	}
	path = argv[1];
	host = argv[2];
	port = atoi(argv[3]);
	n_clients = atoi(argv[4]);
	seconds = atoi(argv[5]);
	if (argc == 7)
		rate = atof(argv[6]);
	call_len = (size_t)snprintf(call, sizeof(call),
				    "{\"method\":\"org.certpick.Agent.Select\","
				    "\"parameters\":{\"host\":\"%s\","
				    "\"port\":%d}}",
				    host, port) +
		   1;

	clients = calloc((size_t)n_clients, sizeof(*clients));
	latencies = malloc(cap * sizeof(*latencies));
	ep = epoll_create1(EPOLL_CLOEXEC);
	if (!clients || !latencies || ep < 0)
		return 1;
	for (int i = 0; i < n_clients; i++) {
		struct epoll_event ev = {.events = EPOLLIN, .data.u32 = i};

		clients[i].fd = connect_socket(path);
		epoll_ctl(ep, EPOLL_CTL_ADD, clients[i].fd, &ev);
	}

	start = now();
	end = start + seconds;
	for (int i = 0; i < n_clients; i++) {
		if (rate > 0)
			clients[i].next_send = start + i / rate;
		else
			send_call(&clients[i], call, call_len, now());
	}

	/* The open loop sleeps in epoll_wait until a timerfd set to the next
	 * scheduled call, so that it leaves the CPU to certpickd. */
	timer = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (timer < 0)
		return 1;
	{
		struct epoll_event ev = {.events = EPOLLIN,
					 .data.u32 = (uint32_t)n_clients};

		epoll_ctl(ep, EPOLL_CTL_ADD, timer, &ev);
	}
	while (now() < end) {
		struct epoll_event events[256];
		double t = now(), wake = end;
		struct itimerspec when = {0};
		int n;

		for (int i = 0; rate > 0 && i < n_clients; i++) {
			struct client *c = &clients[i];

			if (!c->waiting && c->next_send <= t) {
				send_call(c, call, call_len, c->next_send);
				c->next_send += n_clients / rate;
			}
			if (!c->waiting && c->next_send < wake)
				wake = c->next_send;
		}
		if (rate > 0) {
			when.it_value.tv_sec = (time_t)wake;
			when.it_value.tv_nsec =
				(long)((wake - (double)(time_t)wake) * 1e9);
			timerfd_settime(timer, TFD_TIMER_ABSTIME, &when, NULL);
		}
		n = epoll_wait(ep, events, 256, -1);
		t = now();
		for (int k = 0; k < n; k++) {
			struct client *c;
			uint64_t expirations;

			if (events[k].data.u32 == (uint32_t)n_clients) {
				if (read(timer, &expirations,
					 sizeof(expirations)) < 0 &&
				    errno != EAGAIN)
					return 1;
				continue;
			}
			c = &clients[events[k].data.u32];
			if (!read_reply(c))
				continue;
			c->waiting = false;
			if (c->reply_error)
				errors++;
			if (n_latencies < cap)
				latencies[n_latencies++] = t - c->sent_at;
			if (rate == 0 && t < end)
				send_call(c, call, call_len, t);
		}
	}

	qsort(latencies, n_latencies, sizeof(*latencies), compare_doubles);
	if (n_latencies == 0) {
		fprintf(stderr, "bench-daemon-load: no replies\n");
		return 1;
	}
	printf("clients=%d calls=%zu errors=%zu per_second=%.0f "
	       "p50_us=%.1f p90_us=%.1f p99_us=%.1f max_us=%.1f\n",
	       n_clients, n_latencies, errors, n_latencies / (end - start),
	       latencies[n_latencies / 2] * 1e6,
	       latencies[n_latencies * 9 / 10] * 1e6,
	       latencies[n_latencies * 99 / 100] * 1e6,
	       latencies[n_latencies - 1] * 1e6);
	for (int i = 0; i < n_clients; i++)
		close(clients[i].fd);
	free(clients);
	free(latencies);
	return errors ? 1 : 0;
}
