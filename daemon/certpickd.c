/* certpickd: the per-user agent that chooses, with the person, which TLS
 * client certificate a program presents, and signs with its key. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <event2/event.h>

#include "agent.h"
#include "broker.h"
#include "interfaces.h"
#include "daemon-limits.h"
#include "listen.h"
#include "log.h"
#include "varlink.h"

#ifndef CERTPICK_PICKER_PATH
#define CERTPICK_PICKER_PATH "/usr/local/libexec/certpick-picker"
#endif
#ifndef CERTPICK_POLICY_PATH
#define CERTPICK_POLICY_PATH "/usr/local/etc/certpick/policy.json"
#endif

/* Milliseconds that certpickd spends, on exit, writing the last replies to
 * clients that read slowly. */
#define EXIT_DRAIN_MS 1000

struct options {
	char *socket;
	char *store;
	char *picker;
	char *policy;
	bool policy_given;
	int timeout;
	bool verbose;
	bool foreground;
};

static void
usage(FILE *out)
{
	fprintf(out,
		"usage: certpickd [OPTION]...\n"
		"\n"
		"The certpick agent: asks the person which TLS client "
		"certificate a program\n"
		"presents, and signs with its key on the program's behalf.\n"
		"\n"
		"  --socket PATH     listen on PATH (default "
		"$CERTPICK_SOCKET, else\n"
		"                    $XDG_RUNTIME_DIR/certpick/socket)\n"
		"  --store DIR       the identity store (default "
		"$CERTPICK_STORE, else\n"
		"                    $XDG_DATA_HOME/certpick/identities)\n"
		"  --picker PATH     the picker program, by default\n"
		"                    %s\n"
		"  --policy FILE     the auto-select policy, by default\n"
		"                    %s when it exists\n"
		"  --timeout SECONDS how long a request waits for the person "
		"(default %d)\n"
		"  -v, --verbose     log debug messages\n"
		"  --foreground      stay in the foreground; otherwise "
		"certpickd detaches once\n"
		"                    it listens\n"
		"  --help, --version\n"
		"\n"
		"Under systemd, certpickd takes its socket from "
		"certpickd.socket. SIGTERM,\n"
		"SIGINT and SIGHUP stop it cleanly.\n",
		CERTPICK_PICKER_PATH, CERTPICK_POLICY_PATH,
		CP_TIMEOUT_DEFAULT_SECONDS);
}

/* Returns path made absolute against the working directory, because the
 * detached daemon changes to "/". NULL when out of memory. */
static char *
absolute_path(const char *path)
{
	char cwd[PATH_MAX];
	char *result;

	if (path[0] == '/' || !getcwd(cwd, sizeof(cwd)))
		return strdup(path);
	if (asprintf(&result, "%s/%s", cwd, path) < 0)
		return NULL;
	return result;
}

static int
parse_timeout(const char *text, int *out)
{
	char *end;
	long value;

	errno = 0;
	value = strtol(text, &end, 10);
	if (errno || end == text || *end || value < 1 ||
	    value > CP_TIMEOUT_MAX_SECONDS) {
		fprintf(stderr,
			"certpickd: invalid --timeout '%.100s': give whole "
			"seconds from 1 to %d\n",
			text, CP_TIMEOUT_MAX_SECONDS);
		return -1;
	}
	*out = (int)value;
	return 0;
}

/* Parses the command line. Returns -1 to exit with status 2, 1 to exit
 * with 0 (--help, --version), 0 to run. */
static int
parse_options(int argc, char **argv, struct options *o)
{
	enum {
		OPT_SOCKET = 256,
		OPT_STORE,
		OPT_PICKER,
		OPT_POLICY,
		OPT_TIMEOUT,
		OPT_FOREGROUND,
		OPT_HELP,
		OPT_VERSION
	};
	static const struct option long_options[] = {
		{"socket", required_argument, NULL, OPT_SOCKET},
		{"store", required_argument, NULL, OPT_STORE},
		{"picker", required_argument, NULL, OPT_PICKER},
		{"policy", required_argument, NULL, OPT_POLICY},
		{"timeout", required_argument, NULL, OPT_TIMEOUT},
		{"verbose", no_argument, NULL, 'v'},
		{"foreground", no_argument, NULL, OPT_FOREGROUND},
		{"help", no_argument, NULL, OPT_HELP},
		{"version", no_argument, NULL, OPT_VERSION},
		{NULL, 0, NULL, 0},
	};
	char **slot;
	int c;

	o->timeout = CP_TIMEOUT_DEFAULT_SECONDS;
	while ((c = getopt_long(argc, argv, "v", long_options, NULL)) != -1) {
		switch (c) {
		case OPT_SOCKET:
			slot = &o->socket;
			break;
		case OPT_STORE:
			slot = &o->store;
			break;
		case OPT_PICKER:
			slot = &o->picker;
			break;
		case OPT_POLICY:
			slot = &o->policy;
			o->policy_given = true;
			break;
		case OPT_TIMEOUT:
			if (parse_timeout(optarg, &o->timeout) < 0)
				return -1;
			continue;
		case 'v':
			o->verbose = true;
			continue;
		case OPT_FOREGROUND:
			o->foreground = true;
			continue;
		case OPT_HELP:
			usage(stdout);
			return 1;
		case OPT_VERSION:
			printf("certpickd %s\n", CERTPICK_VERSION);
			return 1;
		default:
			usage(stderr);
			return -1;
		}
		free(*slot);
		*slot = absolute_path(optarg);
	}
	if (optind < argc) {
		fprintf(stderr, "certpickd: unexpected argument '%.100s'\n",
			argv[optind]);
		usage(stderr);
		return -1;
	}
	return 0;
}

static void
options_clear(struct options *o)
{
	free(o->socket);
	free(o->store);
	free(o->picker);
	free(o->policy);
}

/* Raises the soft descriptor limit so that CP_CONNECTIONS_MAX clients fit,
 * within the hard limit. */
static void
raise_descriptor_limit(void)
{
	const rlim_t wanted =
		CP_CONNECTIONS_MAX + CP_CONNECTIONS_OVERFLOW_MAX + 128;
	struct rlimit limit;

	if (getrlimit(RLIMIT_NOFILE, &limit) < 0 || limit.rlim_cur >= wanted)
		return;
	limit.rlim_cur =
		limit.rlim_max == RLIM_INFINITY || limit.rlim_max > wanted
			? wanted
			: limit.rlim_max;
	setrlimit(RLIMIT_NOFILE, &limit);
}

/* Keeps stderr for logs only when it is a file or the journal. A daemon
 * that outlives the program that started it must not hold that program's
 * terminal or pipe open; it logs to the journal instead, when there is
 * one. The certpick command starts certpickd with stderr on a pipe, which
 * it reads only until certpickd listens, so the log of a certpickd it
 * started never lands in the command's redirected output. */
static bool
stderr_worth_keeping(void)
{
	const char *stream = getenv("JOURNAL_STREAM");
	struct stat st;

	if (fstat(STDERR_FILENO, &st) < 0)
		return false;
	return S_ISREG(st.st_mode) || (stream && S_ISSOCK(st.st_mode));
}

/* Detaches from the terminal and the starting process: the parent exits
 * at once, because the socket already listens. */
static int
detach(void)
{
	int null_fd;
	pid_t pid = fork();

	if (pid < 0) {
		log_error("cannot fork to detach: %s", strerror(errno));
		return -1;
	}
	if (pid > 0)
		_exit(0);
	setsid();
	if (chdir("/") < 0)
		log_warning("cannot change to '/': %s", strerror(errno));
	null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (null_fd >= 0) {
		dup2(null_fd, STDIN_FILENO);
		dup2(null_fd, STDOUT_FILENO);
		if (!stderr_worth_keeping()) {
			dup2(null_fd, STDERR_FILENO);
			cp_log_to_journal_if_running();
		}
		if (null_fd > STDERR_FILENO)
			close(null_fd);
	}
	return 0;
}

static void
stop_signal_cb(evutil_socket_t signal_number, short what, void *arg)
{
	log_info("received %s; stopping", strsignal((int)signal_number));
	event_base_loopbreak(arg);
}

/* Everything certpickd runs with, freed in reverse order by teardown. */
struct daemon {
	struct options options;
	struct vl_interface *agent_interface, *picker_interface;
	struct cp_store *store;
	struct cp_policy *policy;
	struct cp_decisions *decisions;
	struct cp_listen listen;
	struct event_base *base;
	struct event *signals[3];
	struct cp_picker *picker;
	struct cp_broker *broker;
	struct cp_server_config server_config;
	struct cp_server *server;
};

static int
load_interfaces(struct daemon *d)
{
	char err[256];

	d->agent_interface =
		vl_interface_parse(cp_agent_interface, err, sizeof(err));
	if (!d->agent_interface) {
		log_error("org.certpick.Agent: %s", err);
		return -1;
	}
	d->picker_interface =
		vl_interface_parse(cp_picker_interface, err, sizeof(err));
	if (!d->picker_interface) {
		log_error("org.certpick.Picker: %s", err);
		return -1;
	}
	return 0;
}

/* Opens the store, the policy and the decisions. */
static int
load_state(struct daemon *d)
{
	const char *store_dir =
		d->options.store ? d->options.store : cp_store_default_dir();
	const char *policy =
		d->options.policy ? d->options.policy : CERTPICK_POLICY_PATH;
	char path[PATH_MAX], err[512];

	if (!store_dir) {
		log_error("cannot find the identity store: set HOME, "
			  "XDG_DATA_HOME or CERTPICK_STORE, or pass --store");
		return -1;
	}
	if (cp_store_open(store_dir, &d->store, err, sizeof(err)) < 0) {
		log_error("%s", err);
		return -1;
	}
	if (cp_policy_load(policy, d->options.policy_given, &d->policy, err,
			   sizeof(err)) < 0) {
		log_error("%s", err);
		return -1;
	}
	if (cp_decisions_default_path(path, sizeof(path), err, sizeof(err)) <
		    0 ||
	    cp_decisions_open(path, &d->decisions, err, sizeof(err)) < 0) {
		log_error("%s", err);
		return -1;
	}
	return 0;
}

static int
open_socket(struct daemon *d)
{
	char path[sizeof(d->listen.path)], err[512];
	int r = cp_listen_from_systemd(&d->listen, err, sizeof(err));

	if (r < 0) {
		log_error("%s", err);
		return -1;
	}
	if (r > 0) {
		log_info("using the socket passed by systemd: %s",
			 d->listen.path);
		return 0;
	}
	if (!d->options.socket &&
	    cp_agent_socket_path(path, sizeof(path), err, sizeof(err)) < 0) {
		log_error("%s", err);
		return -1;
	}
	if (cp_listen_open(d->options.socket ? d->options.socket : path,
			   &d->listen, err, sizeof(err)) < 0) {
		log_error("%s", err);
		return -1;
	}
	return 0;
}

static int
start_loop(struct daemon *d)
{
	static const int stop_signals[] = {SIGTERM, SIGINT, SIGHUP};
	struct event_config *config;
	char err[256];

	/* The change list folds the enable and disable of a bufferevent's
	 * write event within one loop turn into no epoll_ctl at all, which
	 * saves two system calls per reply. */
	config = event_config_new();
	if (config)
		event_config_set_flag(config,
				      EVENT_BASE_FLAG_EPOLL_USE_CHANGELIST);
	d->base = config ? event_base_new_with_config(config) : NULL;
	event_config_free(config);
	if (!d->base) {
		log_error("cannot create the event loop");
		return -1;
	}
	for (size_t i = 0; i < 3; i++) {
		d->signals[i] = evsignal_new(d->base, stop_signals[i],
					     stop_signal_cb, d->base);
		if (!d->signals[i] || evsignal_add(d->signals[i], NULL) < 0) {
			log_error("cannot handle signal %d", stop_signals[i]);
			return -1;
		}
	}
	d->picker =
		cp_picker_new(d->base, d->options.picker, d->picker_interface);
	d->broker = cp_broker_new(&(struct cp_broker_config){
		.base = d->base,
		.store = d->store,
		.decisions = d->decisions,
		.policy = d->policy,
		.picker = d->picker,
		.timeout_seconds = d->options.timeout,
	});
	if (!d->picker || !d->broker) {
		log_error("out of memory");
		return -1;
	}
	d->server_config = (struct cp_server_config){
		.interface = d->agent_interface,
		.methods = cp_broker_methods,
		.n_methods = cp_broker_method_count,
		.version = CERTPICK_VERSION,
		.conn_open = cp_broker_conn_open,
		.conn_close = cp_broker_conn_close,
		.arg = d->broker,
	};
	d->server = cp_server_new(d->base, d->listen.fd, &d->server_config, err,
				  sizeof(err));
	d->listen.fd = -1; /* the server owns it now */
	if (!d->server) {
		log_error("%s", err);
		return -1;
	}
	return 0;
}

static void
teardown(struct daemon *d)
{
	if (d->broker)
		cp_broker_shutdown(d->broker);
	cp_server_free(d->server, EXIT_DRAIN_MS);
	cp_broker_free(d->broker);
	cp_picker_free(d->picker);
	for (size_t i = 0; i < 3; i++)
		if (d->signals[i])
			event_free(d->signals[i]);
	if (d->base)
		event_base_free(d->base);
	if (d->listen.fd >= 0)
		close(d->listen.fd);
	cp_listen_remove(&d->listen);
	cp_decisions_free(d->decisions);
	cp_policy_free(d->policy);
	cp_store_free(d->store);
	vl_interface_free(d->agent_interface);
	vl_interface_free(d->picker_interface);
	options_clear(&d->options);
}

int
main(int argc, char **argv)
{
	struct daemon d = {.listen = {.fd = -1, .lock_fd = -1}};
	int r;

	/* Before any JSON value exists: passphrases arrive in messages. */
	vl_json_use_wiping_allocator();

	r = parse_options(argc, argv, &d.options);
	if (r != 0) {
		options_clear(&d.options);
		return r < 0 ? 2 : 0;
	}
	cp_log_init("certpickd", d.options.verbose);
	if (!d.options.picker)
		d.options.picker = strdup(CERTPICK_PICKER_PATH);
	signal(SIGPIPE, SIG_IGN);
	raise_descriptor_limit();

	if (load_interfaces(&d) < 0 || load_state(&d) < 0 ||
	    open_socket(&d) < 0)
		goto fail;
	if (access(d.options.picker, X_OK) < 0)
		log_warning("the picker '%s' is not executable (%s); requests "
			    "that need the person will fail",
			    d.options.picker, strerror(errno));
	if (!d.options.foreground && !d.listen.activated && detach() < 0)
		goto fail;
	cp_listen_record_pid(&d.listen);
	if (start_loop(&d) < 0)
		goto fail;

	log_info("certpickd %s started (pid %d): socket %s, %zu identities, "
		 "%zu policy rules, picker %s",
		 CERTPICK_VERSION, (int)getpid(), d.listen.path,
		 cp_store_count(d.store), cp_policy_rule_count(d.policy),
		 d.options.picker);
	event_base_dispatch(d.base);
	teardown(&d);
	log_info("certpickd stopped");
	return 0;

fail:
	teardown(&d);
	return 1;
}
