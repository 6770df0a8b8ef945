/* certpickd's listening socket: made on a path in a private directory, or
 * received from systemd through socket activation. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/un.h>

struct cp_listen {
	int fd;
	int lock_fd; /* holds an flock on PATH.lock; -1 when activated */
	bool activated;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	char lock_path[sizeof(((struct sockaddr_un *)0)->sun_path) + 8];
};

/* Takes the listening socket that systemd passed (LISTEN_FDS and
 * LISTEN_PID), and unsets those variables. Returns 1 with *out set, 0 when
 * systemd passed none, or -1 with a message in err. */
int cp_listen_from_systemd(struct cp_listen *out, char *err, size_t err_size);

/* Listens on path. Its directory is created with mode 0700 when missing
 * and must otherwise belong to this user with no access for others. A
 * lock file next to the socket keeps a second certpickd away. A socket
 * left by a certpickd that died is replaced once a connect probe fails.
 * Returns 0, or -1 with a message in err. */
int cp_listen_open(const char *path, struct cp_listen *out, char *err,
		   size_t err_size);

/* Writes the daemon's pid into the lock file, for the message another
 * instance shows. */
void cp_listen_record_pid(const struct cp_listen *listen);

/* Removes the socket and the lock file unless systemd owns the socket, and
 * closes the lock. The server that serves the listening descriptor closes
 * it. */
void cp_listen_remove(struct cp_listen *listen);
