/* Connections to certpickd for libcertpick, and a small pool of idle ones.
 * Reusing a connection saves a connect() and certpickd's peer check
 * (SO_PEERCRED and /proc reads) on every TLS handshake. */
#include "certpick-internal.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent.h"

/* Idle sockets, each with the process that pooled it (after fork() the
 * child must not share a connection with its parent) and its mode, so
 * that reuse in the same mode needs no fcntl calls. */
static struct {
	int fd;
	pid_t pid;
	bool blocking;
} pool[CP_AGENT_POOL_MAX];
static size_t pool_count;
static pthread_mutex_t pool_lock = PTHREAD_MUTEX_INITIALIZER;

/* Returns true when an idle connection is still open and silent: certpickd
 * sends nothing unasked, so readable means closed (or confused). */
static bool
idle_connection_usable(int fd)
{
	struct pollfd pfd = {.fd = fd, .events = POLLIN | POLLRDHUP};

	return poll(&pfd, 1, 0) == 0;
}

/* Returns an idle socket of this process, with its mode in *blocking, or
 * -1 when there is none. */
static int
take_pooled(bool *blocking)
{
	int fd = -1;

	pthread_mutex_lock(&pool_lock);
	while (fd < 0 && pool_count > 0) {
		pool_count--;
		fd = pool[pool_count].fd;
		*blocking = pool[pool_count].blocking;
		if (pool[pool_count].pid != getpid()) {
			/* The parent's; this process's copy is closed. */
			close(fd);
			fd = -1;
		} else if (!idle_connection_usable(fd)) {
			close(fd);
			fd = -1;
		}
	}
	pthread_mutex_unlock(&pool_lock);
	return fd;
}

static bool
put_pooled(int fd, bool blocking)
{
	bool pooled = false;

	pthread_mutex_lock(&pool_lock);
	if (pool_count < CP_AGENT_POOL_MAX) {
		pool[pool_count].fd = fd;
		pool[pool_count].pid = getpid();
		pool[pool_count].blocking = blocking;
		pool_count++;
		pooled = true;
	}
	pthread_mutex_unlock(&pool_lock);
	return pooled;
}

static int
set_blocking(int fd, bool blocking)
{
	int flags = fcntl(fd, F_GETFL);

	if (flags < 0)
		return -1;
	flags = blocking ? flags & ~O_NONBLOCK : flags | O_NONBLOCK;
	return fcntl(fd, F_SETFL, flags);
}

struct cp_agent_link *
cp_agent_link_open(bool autostart, bool blocking, char *err, size_t err_size)
{
	struct cp_agent_link *link;
	bool was_blocking;
	int fd = take_pooled(&was_blocking);

	if (fd < 0) {
		fd = cp_agent_connect(autostart, err, err_size);
		was_blocking = true; /* as socket() made it */
	}
	if (fd < 0)
		return NULL;

	if (was_blocking != blocking && set_blocking(fd, blocking) < 0) {
		snprintf(err, err_size,
			 "cannot set the mode of certpickd's socket: %s",
			 strerror(errno));
		close(fd);
		return NULL;
	}
	link = calloc(1, sizeof(*link));
	if (!link) {
		snprintf(err, err_size, "out of memory");
		close(fd);
		return NULL;
	}
	link->fd = fd;
	link->blocking = blocking;
	link->refs = 1;
	return link;
}

struct cp_agent_link *
cp_agent_link_ref(struct cp_agent_link *link)
{
	__atomic_add_fetch(&link->refs, 1, __ATOMIC_RELAXED);
	return link;
}

void
cp_agent_link_unref(struct cp_agent_link *link)
{
	if (!link || __atomic_sub_fetch(&link->refs, 1, __ATOMIC_ACQ_REL) > 0)
		return;
	if (link->fd >= 0 &&
	    (link->broken || !put_pooled(link->fd, link->blocking)))
		close(link->fd);
	free(link);
}
