/* Remembered decisions, in memory and in decisions.json. */
#include "decisions.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "daemon-limits.h"
#include "io.h"
#include "log.h"
#include "store.h"
#include "text.h"

/* The version member of decisions.json; a file of another version is
 * treated as invalid rather than misread. */
#define DECISIONS_FILE_VERSION 1

/* The maximum size of a decisions file that is read. It fits about 80,000
 * decisions, far more servers than a person decides for, and json_loadb
 * needs several times the file's size in memory. */
#define DECISIONS_FILE_MAX (16 * 1024 * 1024)

struct cp_decisions {
	char *path;
	struct cp_decision *items;
	size_t n, cap;
};

void
cp_format_time(time_t t, char *buffer, size_t size)
{
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(buffer, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static bool
parse_time(const char *text, time_t *out)
{
	struct tm tm = {0};
	const char *end = strptime(text, "%Y-%m-%dT%H:%M:%SZ", &tm);

	if (!end || *end)
		return false;
	*out = timegm(&tm);
	return true;
}

int
cp_decisions_default_path(char *buffer, size_t size, char *err, size_t err_size)
{
	const char *state = getenv("XDG_STATE_HOME");
	const char *home = getenv("HOME");
	int n;

	/* Without HOME, the home directory of the user, as the identity
	 * store finds it. */
	if (!home || home[0] != '/') {
		struct passwd *pw = getpwuid(getuid());

		home = pw ? pw->pw_dir : NULL;
	}
	/* The XDG Base Directory specification ignores relative paths. */
	if (state && state[0] == '/')
		n = snprintf(buffer, size, "%s/certpick/decisions.json", state);
	else if (home && home[0] == '/')
		n = snprintf(buffer, size,
			     "%s/.local/state/certpick/decisions.json", home);
	else {
		snprintf(err, err_size,
			 "cannot find the decisions file: neither "
			 "XDG_STATE_HOME nor HOME is an absolute path, and the "
			 "user has no home directory; set XDG_STATE_HOME");
		return -1;
	}
	if (n < 0 || (size_t)n >= size) {
		snprintf(err, err_size, "the decisions file path is too long");
		return -1;
	}
	return 0;
}

static void
decision_clear(struct cp_decision *d)
{
	free(d->host);
	free(d->id);
	free(d->label);
	memset(d, 0, sizeof(*d));
}

void
cp_decisions_free(struct cp_decisions *decisions)
{
	if (!decisions)
		return;
	for (size_t i = 0; i < decisions->n; i++)
		decision_clear(&decisions->items[i]);
	free(decisions->items);
	free(decisions->path);
	free(decisions);
}

static struct cp_decision *
decision_append(struct cp_decisions *decisions)
{
	if (decisions->n == decisions->cap) {
		size_t cap = decisions->cap ? decisions->cap * 2 : 16;
		struct cp_decision *grown =
			realloc(decisions->items, cap * sizeof(*grown));

		if (!grown)
			return NULL;
		decisions->items = grown;
		decisions->cap = cap;
	}
	memset(&decisions->items[decisions->n], 0, sizeof(*decisions->items));
	return &decisions->items[decisions->n++];
}

static bool
valid_id(const char *id)
{
	if (strlen(id) != 64)
		return false;
	for (const char *p = id; *p; p++)
		if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
			return false;
	return true;
}

static const char out_of_memory[] = "out of memory";

/* Reads one entry of the file into a new decision. Sets *normalized when
 * its host was not written as certpickd compares hosts. Returns NULL, or
 * the reason the entry is invalid. */
static const char *
load_entry(struct cp_decisions *decisions, json_t *entry, bool *normalized)
{
	const char *host, *id, *label, *created;
	struct cp_decision *d;
	json_int_t port;
	time_t when;
	char *normal;

	if (json_unpack(entry, "{s:s, s:I, s:s, s:s, s:s !}", "host", &host,
			"port", &port, "id", &id, "label", &label, "created",
			&created) < 0)
		return "it lacks a member, has one of the wrong type, or has "
		       "an unknown one";
	if (port < 1 || port > 65535)
		return "its port is outside 1-65535";
	if (!valid_id(id))
		return "its id is not 64 lowercase hex digits";
	if (strlen(label) > CP_LABEL_MAX ||
	    !cp_utf8_printable(label, strlen(label)))
		return "its label is longer than 256 bytes or has control "
		       "characters";
	if (!parse_time(created, &when))
		return "its creation time is not RFC 3339 UTC";
	normal = strdup(host);
	if (!normal)
		return out_of_memory;
	if (!cp_host_normalize(normal)) {
		free(normal);
		return "its host is not a valid host name or address";
	}
	*normalized = strcmp(normal, host) != 0;

	d = decision_append(decisions);
	if (!d) {
		free(normal);
		return out_of_memory;
	}
	d->host = normal;
	d->port = (int)port;
	d->id = strdup(id);
	d->label = strdup(label);
	d->scope = CP_SCOPE_ALWAYS;
	d->created = when;
	if (!d->id || !d->label)
		return out_of_memory;
	return NULL;
}

/* The problems that loading found in the entries of a file that is
 * otherwise valid. */
struct load_report {
	const char *path;
	size_t *entry_of; /* the entry in the file of each decision */
	size_t skipped;	  /* entries left out */
	size_t rewritten; /* entries whose host was normalized */
};

/* Warnings about single entries, beyond which they are only counted. */
#define ENTRY_WARNINGS_MAX 10

static void
skip_entry(struct load_report *report, size_t index, const char *why)
{
	if (report->skipped++ < ENTRY_WARNINGS_MAX)
		log_warning("the decisions file '%s': ignoring entry %zu: %s",
			    report->path, index, why);
}

static int
compare_server(const struct cp_decision *x, const struct cp_decision *y)
{
	int c = strcmp(x->host, y->host);

	return c ? c : (x->port > y->port) - (x->port < y->port);
}

static int
compare_positions(const void *a, const void *b, void *arg)
{
	const struct cp_decisions *decisions = arg;
	size_t x = *(const size_t *)a, y = *(const size_t *)b;
	int c = compare_server(&decisions->items[x], &decisions->items[y]);

	return c ? c : (x > y) - (x < y);
}

/* Leaves out every decision for a host and port that an earlier entry
 * already has. Sorting finds them without comparing every pair, which took
 * seconds for a file of tens of thousands of entries. Returns -1 when out
 * of memory. */
static int
drop_duplicates(struct cp_decisions *decisions, struct load_report *report)
{
	size_t n = decisions->n, kept = 0;
	size_t *order = malloc((n ? n : 1) * sizeof(*order));
	bool *duplicate = calloc(n ? n : 1, sizeof(*duplicate));

	if (!order || !duplicate) {
		free(order);
		free(duplicate);
		return -1;
	}
	for (size_t i = 0; i < n; i++)
		order[i] = i;
	qsort_r(order, n, sizeof(*order), compare_positions, decisions);
	for (size_t i = 1; i < n; i++) {
		const struct cp_decision *d = &decisions->items[order[i]];

		if (compare_server(&decisions->items[order[i - 1]], d) != 0)
			continue;
		duplicate[order[i]] = true;
		skip_entry(report, report->entry_of[order[i]],
			   "an earlier entry has the same host and port");
	}
	for (size_t i = 0; i < n; i++) {
		if (duplicate[i])
			decision_clear(&decisions->items[i]);
		else
			decisions->items[kept++] = decisions->items[i];
	}
	decisions->n = kept;
	free(order);
	free(duplicate);
	return 0;
}

/* Loads the entries of a parsed file. Returns NULL, or the reason that the
 * whole file is invalid; an invalid entry is left out and counted in
 * report. */
static const char *
load_json(struct cp_decisions *decisions, json_t *root,
	  struct load_report *report)
{
	json_t *list, *entry;
	json_int_t version;
	size_t i;

	if (json_unpack(root, "{s:I, s:o !}", "version", &version, "decisions",
			&list) < 0)
		return "the top level is not {\"version\", \"decisions\"}";
	if (version != DECISIONS_FILE_VERSION)
		return "the version is not 1";
	if (!json_is_array(list))
		return "\"decisions\" is not an array";
	report->entry_of =
		malloc((json_array_size(list) ? json_array_size(list) : 1) *
		       sizeof(*report->entry_of));
	if (!report->entry_of)
		return out_of_memory;
	json_array_foreach(list, i, entry)
	{
		bool normalized = false;
		const char *why = load_entry(decisions, entry, &normalized);

		if (why == out_of_memory)
			return why;
		if (why) {
			skip_entry(report, i, why);
			continue;
		}
		report->entry_of[decisions->n - 1] = i;
		report->rewritten += normalized;
	}
	if (drop_duplicates(decisions, report) < 0)
		return out_of_memory;
	if (report->skipped > ENTRY_WARNINGS_MAX)
		log_warning(
			"the decisions file '%s': ignoring %zu more invalid "
			"entries",
			report->path, report->skipped - ENTRY_WARNINGS_MAX);
	return NULL;
}

/* Writes the name for a copy of an invalid file, PATH.corrupt-TIMESTAMP,
 * with "-N" added for the Nth copy within the same second. */
static void
aside_name(const char *path, int attempt, char *aside, size_t size)
{
	char stamp[32];
	time_t now = time(NULL);
	struct tm tm;

	gmtime_r(&now, &tm);
	strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%SZ", &tm);
	if (attempt == 0)
		snprintf(aside, size, "%s.corrupt-%s", path, stamp);
	else
		snprintf(aside, size, "%s.corrupt-%s-%d", path, stamp, attempt);
}

/* Copies of invalid files made within one second, at most. */
#define ASIDE_ATTEMPTS_MAX 100

/* Renames an invalid file out of the way so that it is kept for the person
 * to inspect and is not overwritten by the next save. An earlier copy is
 * never replaced. */
static int
move_aside(const char *path, const char *why, char *err, size_t err_size)
{
	char aside[PATH_MAX];
	int r = -1;

	for (int attempt = 0; r < 0 && attempt < ASIDE_ATTEMPTS_MAX;
	     attempt++) {
		aside_name(path, attempt, aside, sizeof(aside));
		r = renameat2(AT_FDCWD, path, AT_FDCWD, aside,
			      RENAME_NOREPLACE);
		/* A file system without RENAME_NOREPLACE. */
		if (r < 0 && errno == EINVAL && access(aside, F_OK) < 0)
			r = rename(path, aside);
		if (r < 0 && errno != EEXIST)
			break;
	}
	if (r < 0) {
		snprintf(err, err_size,
			 "the decisions file '%s' is invalid (%s) and cannot "
			 "be moved aside: %s; move or delete it",
			 path, why, strerror(errno));
		return -1;
	}
	log_warning("the decisions file '%s' is invalid (%s): moved it to "
		    "'%s'; no decision is remembered",
		    path, why, aside);
	return 0;
}

/* Writes a copy of a file's content next to it, under a name from
 * aside_name. Returns 0, or -1 with errno set. */
static int
keep_copy(const char *path, const char *data, size_t len, char *aside,
	  size_t aside_size)
{
	int fd = -1;

	for (int attempt = 0; fd < 0 && attempt < ASIDE_ATTEMPTS_MAX;
	     attempt++) {
		aside_name(path, attempt, aside, aside_size);
		fd = open(aside, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (fd < 0 && errno != EEXIST)
			return -1;
	}
	if (fd < 0)
		return -1;
	if (cp_write_all(fd, data, len) < 0 || fsync(fd) < 0) {
		int saved = errno;

		close(fd);
		unlink(aside);
		errno = saved;
		return -1;
	}
	return close(fd);
}

static int save(struct cp_decisions *decisions, char *err, size_t err_size);

/* Rewrites a file from which entries were left out or normalized, after
 * keeping a copy of it for the person. Failing that, the file stays as it
 * is until the next change. */
static void
rewrite_loaded(struct cp_decisions *decisions, const char *data, size_t len,
	       const struct load_report *report)
{
	char aside[PATH_MAX], err[512];

	if (report->skipped) {
		if (keep_copy(decisions->path, data, len, aside,
			      sizeof(aside)) < 0) {
			log_warning("cannot keep a copy of the decisions file "
				    "'%s': %s; the %zu entries it ignored are "
				    "lost at the next change",
				    decisions->path, strerror(errno),
				    report->skipped);
			return;
		}
		log_warning("the decisions file '%s': ignored %zu invalid "
			    "entries, kept %zu decisions; the whole file is "
			    "copied to '%s'",
			    decisions->path, report->skipped, decisions->n,
			    aside);
	}
	if (report->rewritten)
		log_info("the decisions file '%s': wrote %zu hosts in "
			 "normal form (lowercase, without a trailing dot)",
			 decisions->path, report->rewritten);
	if (save(decisions, err, sizeof(err)) < 0)
		log_warning("%s", err);
}

/* Reads the whole file into *data. Returns NULL, or the reason it is not
 * a decisions file (too large, not a regular file), or sets *error to the
 * errno of a failed read. */
static const char *
read_decisions_file(int fd, char **data, size_t *len, int *error)
{
	struct stat st;
	size_t done = 0;

	*data = NULL;
	*error = 0;
	if (fstat(fd, &st) < 0) {
		*error = errno;
		return NULL;
	}
	if (!S_ISREG(st.st_mode))
		return "it is not a regular file";
	if (st.st_size > DECISIONS_FILE_MAX)
		return "it is larger than 16 MiB";
	*data = malloc((size_t)st.st_size + 1);
	if (!*data) {
		*error = ENOMEM;
		return NULL;
	}
	for (;;) {
		ssize_t n =
			read(fd, *data + done, (size_t)st.st_size + 1 - done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			*error = errno;
			return NULL;
		}
		if (n == 0)
			break;
		done += (size_t)n;
		/* The file grew while it was read. */
		if (done > (size_t)st.st_size)
			return "it changed while it was read";
	}
	*len = done;
	return NULL;
}

int
cp_decisions_open(const char *path, struct cp_decisions **out, char *err,
		  size_t err_size)
{
	struct cp_decisions *decisions = calloc(1, sizeof(*decisions));
	struct load_report report = {.path = path};
	char *data = NULL, reason[200];
	json_t *root = NULL;
	json_error_t error;
	const char *why;
	size_t len = 0;
	int fd, read_error;

	*out = NULL;
	if (!decisions || !(decisions->path = strdup(path))) {
		free(decisions);
		snprintf(err, err_size, "out of memory");
		return -1;
	}
	/* O_NONBLOCK: opening a FIFO put there would wait for a writer. */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0 && errno == ENOENT) {
		*out = decisions;
		return 0;
	}
	why = fd < 0 ? NULL : read_decisions_file(fd, &data, &len, &read_error);
	if (fd < 0 || (!why && read_error)) {
		snprintf(err, err_size,
			 "cannot read the decisions file '%s': %s", path,
			 strerror(fd < 0 ? errno : read_error));
		if (fd >= 0)
			close(fd);
		free(data);
		cp_decisions_free(decisions);
		return -1;
	}
	close(fd);

	if (!why) {
		root = json_loadb(data, len, JSON_REJECT_DUPLICATES, &error);
		why = root ? load_json(decisions, root, &report) : error.text;
	}
	/* The reason may point into the loaded JSON, which goes below. */
	snprintf(reason, sizeof(reason), "%s", why ? why : "");
	json_decref(root);
	free(report.entry_of);
	if (why == out_of_memory) {
		snprintf(err, err_size,
			 "out of memory reading the decisions file '%s'", path);
		free(data);
		cp_decisions_free(decisions);
		return -1;
	}
	if (why) {
		for (size_t i = 0; i < decisions->n; i++)
			decision_clear(&decisions->items[i]);
		decisions->n = 0;
		free(data);
		if (move_aside(path, reason, err, err_size) < 0) {
			cp_decisions_free(decisions);
			return -1;
		}
		*out = decisions;
		return 0;
	}
	if (report.skipped || report.rewritten)
		rewrite_loaded(decisions, data, len, &report);
	free(data);
	log_debug("loaded %zu decisions from '%s'", decisions->n, path);
	*out = decisions;
	return 0;
}

/* Creates the missing directories of path's parent with mode 0700. */
static int
make_parent_dirs(const char *path)
{
	char dir[PATH_MAX];
	char *slash;

	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (!slash || slash == dir)
		return 0;
	*slash = '\0';
	for (char *p = dir + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(dir, 0700) < 0 && errno != EEXIST)
			return -1;
		*p = '/';
	}
	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return -1;
	return 0;
}

static json_t *
decision_to_json(const struct cp_decision *d, bool with_scope)
{
	char created[32];
	json_t *object;

	cp_format_time(d->created, created, sizeof(created));
	object = json_pack("{s:s, s:i, s:s?, s:s?, s:s}", "host", d->host,
			   "port", d->port, "id", d->id, "label", d->label,
			   "created", created);
	if (object && with_scope &&
	    json_object_set_new(object, "scope",
				json_string(d->scope == CP_SCOPE_ALWAYS
						    ? "always"
						    : "session")) < 0) {
		json_decref(object);
		return NULL;
	}
	return object;
}

/* Serializes value into a buffer from malloc. json_dumps would allocate
 * with the wiping allocator that certpickd installs, which free() must not
 * release. */
static char *
dump_json(const json_t *value)
{
	size_t size = json_dumpb(value, NULL, 0, JSON_INDENT(2));
	char *text = size ? malloc(size + 1) : NULL;

	if (!text)
		return NULL;
	if (json_dumpb(value, text, size, JSON_INDENT(2)) != size) {
		free(text);
		return NULL;
	}
	text[size] = '\0';
	return text;
}

/* Writes the "always" decisions to a temporary file in the same directory,
 * syncs it, renames it over the file and syncs the directory, so that a
 * crash leaves either the old file or the new one. */
static int
save(struct cp_decisions *decisions, char *err, size_t err_size)
{
	json_t *root = json_pack("{s:i, s:[]}", "version",
				 DECISIONS_FILE_VERSION, "decisions");
	json_t *list = json_object_get(root, "decisions");
	char tmp[PATH_MAX], dir[PATH_MAX];
	char *text = NULL, *slash;
	int fd = -1, dir_fd;

	for (size_t i = 0; root && i < decisions->n; i++)
		if (decisions->items[i].scope == CP_SCOPE_ALWAYS &&
		    json_array_append_new(
			    list,
			    decision_to_json(&decisions->items[i], false)) < 0)
			goto fail_memory;
	if (!root || !(text = dump_json(root)))
		goto fail_memory;

	if (make_parent_dirs(decisions->path) < 0)
		goto fail_errno;
	snprintf(tmp, sizeof(tmp), "%s.XXXXXX", decisions->path);
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0)
		goto fail_errno;
	if (cp_write_all(fd, text, strlen(text)) < 0 ||
	    cp_write_all(fd, "\n", 1) || fsync(fd) < 0 || close(fd) < 0) {
		fd = -1;
		unlink(tmp);
		goto fail_errno;
	}
	fd = -1;
	if (rename(tmp, decisions->path) < 0) {
		unlink(tmp);
		goto fail_errno;
	}

	snprintf(dir, sizeof(dir), "%s", decisions->path);
	slash = strrchr(dir, '/');
	if (slash && slash != dir)
		*slash = '\0';
	dir_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dir_fd >= 0) {
		fsync(dir_fd);
		close(dir_fd);
	}
	free(text);
	json_decref(root);
	return 0;

fail_errno:
	snprintf(err, err_size, "cannot write the decisions file '%s': %s",
		 decisions->path, strerror(errno));
	if (fd >= 0)
		close(fd);
	free(text);
	json_decref(root);
	return -1;

fail_memory:
	snprintf(err, err_size, "out of memory writing the decisions file");
	free(text);
	json_decref(root);
	return -1;
}

static struct cp_decision *
find(struct cp_decisions *decisions, const char *host, int port)
{
	for (size_t i = 0; i < decisions->n; i++)
		if (decisions->items[i].port == port &&
		    strcmp(decisions->items[i].host, host) == 0)
			return &decisions->items[i];
	return NULL;
}

const struct cp_decision *
cp_decisions_find(struct cp_decisions *decisions, const char *host, int port)
{
	return find(decisions, host, port);
}

int
cp_decisions_set(struct cp_decisions *decisions, const char *host, int port,
		 const char *id, const char *label,
		 enum cp_decision_scope scope, char *err, size_t err_size)
{
	struct cp_decision *d = find(decisions, host, port);
	bool was_always = d && d->scope == CP_SCOPE_ALWAYS;
	struct cp_decision fresh = {0};

	if (!id)
		scope = CP_SCOPE_SESSION;
	fresh.host = strdup(host);
	fresh.port = port;
	if (id) {
		fresh.id = strdup(id);
		fresh.label = strdup(label ? label : "");
	}
	fresh.scope = scope;
	fresh.created = time(NULL);
	if (!fresh.host || (id && (!fresh.id || !fresh.label)) ||
	    (!d && !(d = decision_append(decisions)))) {
		decision_clear(&fresh);
		snprintf(err, err_size, "out of memory");
		return -1;
	}
	decision_clear(d);
	*d = fresh;

	if (scope != CP_SCOPE_ALWAYS && !was_always)
		return 0;
	if (save(decisions, err, err_size) < 0) {
		d->scope = CP_SCOPE_SESSION;
		return -1;
	}
	return 0;
}

int
cp_decisions_forget(struct cp_decisions *decisions, const char *host, int port,
		    const char *id, cp_decision_forgotten_fn forgotten,
		    void *arg, char *err, size_t err_size)
{
	bool rewrite = false;
	size_t kept = 0;
	int count = 0;

	for (size_t i = 0; i < decisions->n; i++) {
		struct cp_decision *d = &decisions->items[i];
		bool match = (!host || strcmp(d->host, host) == 0) &&
			     (port < 0 || d->port == port) &&
			     (!id || (d->id && strcmp(d->id, id) == 0));

		if (!match) {
			decisions->items[kept++] = *d;
			continue;
		}
		rewrite |= d->scope == CP_SCOPE_ALWAYS;
		count++;
		if (forgotten)
			forgotten(d, arg);
		decision_clear(d);
	}
	decisions->n = kept;
	if (rewrite && save(decisions, err, err_size) < 0)
		return -1;
	return count;
}

json_t *
cp_decisions_to_json(const struct cp_decisions *decisions)
{
	json_t *list = json_array();

	for (size_t i = 0; list && i < decisions->n; i++)
		if (json_array_append_new(
			    list,
			    decision_to_json(&decisions->items[i], true)) < 0) {
			json_decref(list);
			return NULL;
		}
	return list;
}
