/* certpickd's listening socket. */
#include "listen.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <systemd/sd-daemon.h>

#include "log.h"

int
cp_listen_from_systemd(struct cp_listen *out, char *err, size_t err_size)
{
	struct sockaddr_un addr = {0};
	socklen_t len = sizeof(addr);
	int n = sd_listen_fds(1);
	int fd = SD_LISTEN_FDS_START;

	memset(out, 0, sizeof(*out));
	out->fd = out->lock_fd = -1;
	if (n == 0)
		return 0;
	if (n < 0) {
		snprintf(err, err_size, "cannot read LISTEN_FDS: %s",
			 strerror(-n));
		return -1;
	}
	if (n != 1 || sd_is_socket_unix(fd, SOCK_STREAM, 1, NULL, 0) <= 0) {
		snprintf(err, err_size,
			 "systemd passed %d descriptors; certpickd needs one "
			 "listening Unix stream socket (ListenStream= in "
			 "certpickd.socket)",
			 n);
		return -1;
	}
	/* libevent's listener accepts until EAGAIN, so a blocking socket
	 * would stall the daemon in accept. */
	if (fcntl(fd, F_SETFD, FD_CLOEXEC) < 0 ||
	    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) < 0) {
		snprintf(err, err_size,
			 "cannot set up the socket passed by systemd: %s",
			 strerror(errno));
		return -1;
	}
	out->fd = fd;
	out->activated = true;
	if (getsockname(fd, (struct sockaddr *)&addr, &len) == 0 &&
	    addr.sun_family == AF_UNIX)
		snprintf(out->path, sizeof(out->path), "%s", addr.sun_path);
	return 1;
}

/* Checks that dir is a directory of this user that no other user can
 * enter, creating it when it is missing. */
static int
check_directory(const char *dir, char *err, size_t err_size)
{
	struct stat st;

	if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
		snprintf(err, err_size,
			 "cannot create the socket directory '%s': %s", dir,
			 strerror(errno));
		return -1;
	}
	if (lstat(dir, &st) < 0) {
		snprintf(err, err_size,
			 "cannot inspect the socket directory "
			 "'%s': %s",
			 dir, strerror(errno));
		return -1;
	}
	if (!S_ISDIR(st.st_mode)) {
		snprintf(err, err_size,
			 "the socket directory '%s' is not a directory (or is "
			 "a symbolic link); remove it or choose another "
			 "--socket",
			 dir);
		return -1;
	}
	if (st.st_uid != getuid()) {
		snprintf(err, err_size,
			 "the socket directory '%s' belongs to uid %u, not to "
			 "uid %u that runs certpickd; remove it or choose "
			 "another --socket",
			 dir, (unsigned)st.st_uid, (unsigned)getuid());
		return -1;
	}
	if (st.st_mode & 077) {
		snprintf(err, err_size,
			 "the socket directory '%s' has mode %04o, which lets "
			 "other users in; it must be 0700: run 'chmod 700 %s'",
			 dir, (unsigned)(st.st_mode & 07777), dir);
		return -1;
	}
	return 0;
}

static void
read_lock_owner(int fd, char *buffer, size_t size)
{
	ssize_t n = pread(fd, buffer, size - 1, 0);

	buffer[n > 0 ? n : 0] = '\0';
	buffer[strcspn(buffer, "\n")] = '\0';
}

/* Takes the lock that makes certpickd the only one on this socket. */
static int
take_lock(struct cp_listen *out, char *err, size_t err_size)
{
	char owner[32];

	out->lock_fd = open(out->lock_path,
			    O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (out->lock_fd < 0) {
		snprintf(err, err_size, "cannot open the lock file '%s': %s",
			 out->lock_path, strerror(errno));
		return -1;
	}
	if (flock(out->lock_fd, LOCK_EX | LOCK_NB) == 0)
		return 0;
	if (errno == EWOULDBLOCK) {
		read_lock_owner(out->lock_fd, owner, sizeof(owner));
		snprintf(err, err_size,
			 "certpickd is already running on '%s'%s%s%s",
			 out->path, *owner ? " (pid " : "", owner,
			 *owner ? ")" : "");
	} else {
		snprintf(err, err_size, "cannot lock '%s': %s", out->lock_path,
			 strerror(errno));
	}
	close(out->lock_fd);
	out->lock_fd = -1;
	return -1;
}

static int
connect_probe(const char *path)
{
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int r;

	if (fd < 0)
		return -1;
	snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", path);
	r = connect(fd, (struct sockaddr *)&addr, sizeof(addr));
	close(fd);
	return r;
}

/* Removes a socket file left by a certpickd that is gone. A socket that
 * still accepts connections belongs to a live server (systemd's, for
 * one), which certpickd must not take over. */
static int
remove_stale_socket(const char *path, char *err, size_t err_size)
{
	struct stat st;

	if (lstat(path, &st) < 0) {
		if (errno == ENOENT)
			return 0;
		snprintf(err, err_size, "cannot inspect '%s': %s", path,
			 strerror(errno));
		return -1;
	}
	if (!S_ISSOCK(st.st_mode)) {
		snprintf(err, err_size,
			 "'%s' exists and is not a socket; remove it or choose "
			 "another --socket",
			 path);
		return -1;
	}
	if (connect_probe(path) == 0) {
		snprintf(err, err_size,
			 "another server already listens on '%s' (systemd's "
			 "certpickd.socket?); stop it or choose another "
			 "--socket",
			 path);
		return -1;
	}
	log_info("replacing the stale socket '%s'", path);
	if (unlink(path) < 0 && errno != ENOENT) {
		snprintf(err, err_size,
			 "cannot remove the stale socket '%s': %s", path,
			 strerror(errno));
		return -1;
	}
	return 0;
}

static int
bind_socket(struct cp_listen *out, char *err, size_t err_size)
{
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	mode_t old_umask;
	int r;

	out->fd =
		socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (out->fd < 0) {
		snprintf(err, err_size, "cannot create a socket: %s",
			 strerror(errno));
		return -1;
	}
	snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", out->path);

	/* The umask makes the socket 0600 from the start; the directory is
	 * private anyway, and chmod below covers odd file systems. */
	old_umask = umask(0177);
	r = bind(out->fd, (struct sockaddr *)&addr, sizeof(addr));
	umask(old_umask);
	if (r < 0 || chmod(out->path, 0600) < 0 ||
	    listen(out->fd, SOMAXCONN) < 0) {
		snprintf(err, err_size, "cannot listen on '%s': %s", out->path,
			 strerror(errno));
		close(out->fd);
		out->fd = -1;
		return -1;
	}
	return 0;
}

int
cp_listen_open(const char *path, struct cp_listen *out, char *err,
	       size_t err_size)
{
	char dir[sizeof(out->path)];
	char *slash;

	memset(out, 0, sizeof(*out));
	out->fd = out->lock_fd = -1;
	if (strlen(path) >= sizeof(out->path)) {
		snprintf(
			err, err_size,
			"the socket path '%.100s...' is longer than %zu bytes; "
			"choose a shorter --socket",
			path, sizeof(out->path) - 1);
		return -1;
	}
	snprintf(out->path, sizeof(out->path), "%s", path);
	snprintf(out->lock_path, sizeof(out->lock_path), "%s.lock", path);

	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (!slash) {
		snprintf(dir, sizeof(dir), ".");
	} else if (slash == dir) {
		snprintf(err, err_size,
			 "the socket '%s' would be in '/'; choose a private "
			 "directory",
			 path);
		return -1;
	} else {
		*slash = '\0';
	}

	if (check_directory(dir, err, err_size) < 0 ||
	    take_lock(out, err, err_size) < 0)
		return -1;
	if (remove_stale_socket(path, err, err_size) < 0 ||
	    bind_socket(out, err, err_size) < 0) {
		close(out->lock_fd);
		out->lock_fd = -1;
		return -1;
	}
	return 0;
}

void
cp_listen_record_pid(const struct cp_listen *listen)
{
	char text[32];
	int len;

	if (listen->lock_fd < 0)
		return;
	len = snprintf(text, sizeof(text), "%d\n", (int)getpid());
	if (ftruncate(listen->lock_fd, 0) < 0 ||
	    pwrite(listen->lock_fd, text, (size_t)len, 0) != len)
		log_debug("cannot write the pid into '%s': %s",
			  listen->lock_path, strerror(errno));
}

void
cp_listen_remove(struct cp_listen *listen)
{
	if (listen->activated || listen->lock_fd < 0)
		return;

	/* The socket goes before the lock, so that a certpickd starting
	 * meanwhile never finds an unlocked socket of ours. */
	if (unlink(listen->path) < 0 && errno != ENOENT)
		log_warning("cannot remove the socket '%s': %s", listen->path,
			    strerror(errno));
	unlink(listen->lock_path);
	close(listen->lock_fd);
	listen->lock_fd = -1;
}
