/* Remembered decisions, in memory and in decisions.json. */
#include "decisions.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "daemon-limits.h"
#include "log.h"

/* The version member of decisions.json; a file of another version is
 * treated as invalid rather than misread. */
#define DECISIONS_FILE_VERSION 1

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

	/* The XDG Base Directory specification ignores relative paths. */
	if (state && state[0] == '/')
		n = snprintf(buffer, size, "%s/certpick/decisions.json", state);
	else if (home && home[0] == '/')
		n = snprintf(buffer, size,
			     "%s/.local/state/certpick/decisions.json", home);
	else {
		snprintf(err, err_size,
			 "cannot find the decisions file: neither "
			 "XDG_STATE_HOME nor HOME is an absolute path");
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

/* Reads one entry of the file. Returns NULL, or the reason it is invalid. */
static const char *
load_entry(struct cp_decisions *decisions, json_t *entry)
{
	const char *host, *id, *label, *created;
	struct cp_decision *d;
	json_int_t port;
	time_t when;

	if (json_unpack(entry, "{s:s, s:I, s:s, s:s, s:s !}", "host", &host,
			"port", &port, "id", &id, "label", &label, "created",
			&created) < 0)
		return "an entry lacks a member, has one of the wrong type, "
		       "or has an unknown one";
	if (!*host || strlen(host) > CP_HOST_MAX)
		return "an entry has an invalid host";
	if (port < 1 || port > 65535)
		return "an entry has a port outside 1-65535";
	if (!valid_id(id))
		return "an entry has an id that is not 64 lowercase hex digits";
	if (!parse_time(created, &when))
		return "an entry has a creation time that is not RFC 3339 UTC";
	if (cp_decisions_find(decisions, host, (int)port))
		return "two entries have the same host and port";

	d = decision_append(decisions);
	if (!d)
		return "out of memory";
	d->host = strdup(host);
	d->port = (int)port;
	d->id = strdup(id);
	d->label = strdup(label);
	d->scope = CP_SCOPE_ALWAYS;
	d->created = when;
	if (!d->host || !d->id || !d->label)
		return "out of memory";
	return NULL;
}

static const char *
load_json(struct cp_decisions *decisions, json_t *root)
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
	json_array_foreach(list, i, entry)
	{
		const char *why = load_entry(decisions, entry);

		if (why)
			return why;
	}
	return NULL;
}

/* Renames an invalid file out of the way so that it is kept for the person
 * to inspect and is not overwritten by the next save. */
static int
move_aside(const char *path, const char *why, char *err, size_t err_size)
{
	char aside[PATH_MAX], stamp[32];
	struct tm tm;
	time_t now = time(NULL);

	gmtime_r(&now, &tm);
	strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%SZ", &tm);
	snprintf(aside, sizeof(aside), "%s.corrupt-%s", path, stamp);
	if (rename(path, aside) < 0) {
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

int
cp_decisions_open(const char *path, struct cp_decisions **out, char *err,
		  size_t err_size)
{
	struct cp_decisions *decisions = calloc(1, sizeof(*decisions));
	json_error_t error;
	const char *why;
	json_t *root;
	FILE *f;

	*out = NULL;
	if (!decisions || !(decisions->path = strdup(path))) {
		free(decisions);
		snprintf(err, err_size, "out of memory");
		return -1;
	}
	f = fopen(path, "re");
	if (!f && errno == ENOENT) {
		*out = decisions;
		return 0;
	}
	if (!f) {
		snprintf(err, err_size,
			 "cannot read the decisions file '%s': %s", path,
			 strerror(errno));
		cp_decisions_free(decisions);
		return -1;
	}
	root = json_loadf(f, JSON_REJECT_DUPLICATES, &error);
	fclose(f);

	why = root ? load_json(decisions, root) : error.text;
	json_decref(root);
	if (why) {
		char reason[200];

		/* The reason may point into the loaded JSON, which is gone
		 * after the cleanup below. */
		snprintf(reason, sizeof(reason), "%s", why);
		for (size_t i = 0; i < decisions->n; i++)
			decision_clear(&decisions->items[i]);
		decisions->n = 0;
		if (move_aside(path, reason, err, err_size) < 0) {
			cp_decisions_free(decisions);
			return -1;
		}
	}
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

static int
write_all(int fd, const char *data, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, data, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		data += n;
		len -= (size_t)n;
	}
	return 0;
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
	if (write_all(fd, text, strlen(text)) < 0 || write_all(fd, "\n", 1) ||
	    fsync(fd) < 0 || close(fd) < 0) {
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
