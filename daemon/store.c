/* The identity store: its directory, loading and reloading, the indexes
 * that the matcher uses, and atomic writes of identity files. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/x509v3.h>

#include "io.h"
#include "log.h"
#include "store-private.h"

const char *
cp_store_default_dir(void)
{
	static char path[PATH_MAX];
	const char *env = getenv("CERTPICK_STORE");
	const char *home;
	int n;

	if (env && env[0])
		return env;

	/* The XDG Base Directory specification ignores relative paths. */
	env = getenv("XDG_DATA_HOME");
	if (env && env[0] == '/') {
		n = snprintf(path, sizeof(path), "%s/certpick/identities", env);
		return n > 0 && (size_t)n < sizeof(path) ? path : NULL;
	}

	home = getenv("HOME");
	if (!home || home[0] != '/') {
		struct passwd *pw = getpwuid(getuid());

		home = pw ? pw->pw_dir : NULL;
	}
	if (!home)
		return NULL;
	n = snprintf(path, sizeof(path), "%s/.local/share/certpick/identities",
		     home);
	return n > 0 && (size_t)n < sizeof(path) ? path : NULL;
}

/* Creates dir and its missing parents with mode 0700. */
static int
make_dirs(const char *dir, char *err, size_t err_size)
{
	char path[PATH_MAX];
	size_t len = strlen(dir);

	if (len == 0 || len >= sizeof(path)) {
		cp_set_error(err, err_size, "invalid store directory '%.200s'",
			     dir);
		return -1;
	}
	memcpy(path, dir, len + 1);
	for (size_t i = 1; i <= len; i++) {
		if (path[i] != '/' && path[i] != '\0')
			continue;
		path[i] = '\0';
		if (mkdir(path, 0700) < 0 && errno != EEXIST) {
			cp_set_error(err, err_size, "cannot create %s: %s",
				     path, strerror(errno));
			return -1;
		}
		path[i] = dir[i];
	}
	return 0;
}

/* Rejects a directory that another user owns or that others can write:
 * either could swap certificates or keys under the person's name. */
static int
check_dir(const char *dir, const struct stat *st, bool warn, char *err,
	  size_t err_size)
{
	if (!S_ISDIR(st->st_mode)) {
		cp_set_error(err, err_size, "the store %s is not a directory",
			     dir);
		return -1;
	}
	if (st->st_uid != geteuid()) {
		cp_set_error(err, err_size,
			     "the store directory %s is owned by uid %u, not "
			     "by you (uid %u); use a directory of your own "
			     "with --store DIR or CERTPICK_STORE",
			     dir, (unsigned)st->st_uid, (unsigned)geteuid());
		return -1;
	}
	if (st->st_mode & (S_IWGRP | S_IWOTH)) {
		cp_set_error(err, err_size,
			     "the store directory %s is writable by others "
			     "(mode %04o); run: chmod 700 %s",
			     dir, (unsigned)(st->st_mode & 07777), dir);
		return -1;
	}
	if (warn && (st->st_mode & (S_IRWXG | S_IRWXO)))
		log_warning("the store directory %s is readable by others "
			    "(mode %04o); run: chmod 700 %s",
			    dir, (unsigned)(st->st_mode & 07777), dir);
	return 0;
}

static int
check_file(const char *path, const struct stat *st, char *err, size_t err_size)
{
	if (st->st_uid != geteuid()) {
		cp_set_error(err, err_size,
			     "the store file %s is owned by uid %u, not by "
			     "you (uid %u); remove it",
			     path, (unsigned)st->st_uid, (unsigned)geteuid());
		return -1;
	}
	if (st->st_mode & (S_IWGRP | S_IWOTH)) {
		cp_set_error(err, err_size,
			     "the store file %s is writable by others (mode "
			     "%04o); run: chmod 600 %s",
			     path, (unsigned)(st->st_mode & 07777), path);
		return -1;
	}
	if (st->st_mode & (S_IRWXG | S_IRWXO))
		log_warning("the store file %s is readable by others (mode "
			    "%04o); run: chmod 600 %s",
			    path, (unsigned)(st->st_mode & 07777), path);
	return 0;
}

static bool
is_identity_file(const char *name)
{
	char id[CP_IDENTITY_ID_SIZE];

	if (strlen(name) !=
		    CP_IDENTITY_ID_SIZE - 1 + strlen(CP_STORE_FILE_SUFFIX) ||
	    strcmp(name + CP_IDENTITY_ID_SIZE - 1, CP_STORE_FILE_SUFFIX) != 0)
		return false;
	memcpy(id, name, CP_IDENTITY_ID_SIZE - 1);
	id[CP_IDENTITY_ID_SIZE - 1] = '\0';
	return cp_id_valid(id);
}

/* FNV-1a over the name and inode of one identity file. The listing's
 * hash is the sum over its files, so the order of readdir does not
 * matter. */
static uint64_t
entry_hash(const char *name, ino_t ino)
{
	uint64_t hash = 0xcbf29ce484222325u;

	for (const char *p = name; *p; p++)
		hash = (hash ^ (unsigned char)*p) * 0x100000001b3u;
	for (size_t i = 0; i < sizeof(ino); i++)
		hash = (hash ^ ((uint64_t)ino >> (8 * i) & 0xff)) *
		       0x100000001b3u;
	return hash;
}

static int
read_file(int fd, const char *path, char **out, size_t *out_len, char *err,
	  size_t err_size)
{
	char *data = malloc(CP_STORE_FILE_MAX + 1);
	size_t len = 0;

	if (!data) {
		cp_set_error(err, err_size, "out of memory");
		return -1;
	}
	for (;;) {
		ssize_t n = read(fd, data + len, CP_STORE_FILE_MAX + 1 - len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			cp_set_error(err, err_size, "cannot read %s: %s", path,
				     strerror(errno));
			break;
		}
		len += (size_t)n;
		if (n == 0 || len > CP_STORE_FILE_MAX)
			break;
	}
	if (len > CP_STORE_FILE_MAX)
		cp_set_error(err, err_size, "%s is larger than %d bytes", path,
			     CP_STORE_FILE_MAX);
	if (len > CP_STORE_FILE_MAX || (err_size && err[0])) {
		OPENSSL_cleanse(data, len);
		free(data);
		return -1;
	}
	*out = data;
	*out_len = len;
	return 0;
}

/* Loads one identity file. Returns 1 with the identity in *out, 0 when the
 * file is skipped (with a warning), or -1 when it makes the store unsafe
 * to use. */
static int
load_file(const char *dir, int dir_fd, const char *name,
	  struct cp_identity **out, char *err, size_t err_size)
{
	char path[PATH_MAX];
	char reason[512] = "";
	struct stat st;
	char *data = NULL;
	size_t len = 0;
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	/* O_NONBLOCK: opening a FIFO would wait for a writer. It does not
	 * change how a regular file reads. */
	fd = openat(dir_fd, name,
		    O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0 && errno == ELOOP) {
		log_warning("skipping %s: it is a symbolic link, which the "
			    "store does not follow; replace it with the file",
			    path);
		return 0;
	}
	if (fd < 0 || fstat(fd, &st) < 0) {
		log_warning("skipping %s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return 0;
	}
	if (check_file(path, &st, err, err_size) < 0) {
		close(fd);
		return -1;
	}
	if (!S_ISREG(st.st_mode) ||
	    read_file(fd, path, &data, &len, reason, sizeof(reason)) < 0) {
		log_warning("skipping %s: %s", path,
			    reason[0] ? reason : "not a regular file");
		close(fd);
		return 0;
	}
	close(fd);

	*out = cp_identity_file_parse(path, data, len, reason, sizeof(reason));
	OPENSSL_cleanse(data, len);
	free(data);
	if (*out && cp_identity_precompute(*out, reason, sizeof(reason)) < 0) {
		cp_identity_free(*out);
		*out = NULL;
	}
	if (!*out) {
		log_warning("skipping %s: %s", path, reason);
		return 0;
	}
	return 1;
}

static int
push_identity(struct cp_store *store, struct cp_identity *identity,
	      size_t *capacity)
{
	if (store->count == *capacity) {
		size_t n = *capacity ? 2 * *capacity : 64;
		struct cp_identity **grown =
			realloc(store->identities, n * sizeof(*grown));

		if (!grown)
			return -1;
		store->identities = grown;
		*capacity = n;
	}
	store->identities[store->count++] = identity;
	return 0;
}

/* Reads every identity file of the open directory into store. */
static int
load_files(struct cp_store *store, int dir_fd, char *err, size_t err_size)
{
	int list_fd = dup(dir_fd);
	DIR *listing = list_fd >= 0 ? fdopendir(list_fd) : NULL;
	struct dirent *entry;
	size_t capacity = 0;
	int r = 0;

	if (!listing) {
		cp_set_error(err, err_size, "cannot list %s: %s", store->dir,
			     strerror(errno));
		if (list_fd >= 0)
			close(list_fd);
		return -1;
	}
	while (r == 0 && (entry = readdir(listing))) {
		struct cp_identity *identity = NULL;
		int loaded;

		if (!is_identity_file(entry->d_name))
			continue;
		store->listing_hash += entry_hash(entry->d_name, entry->d_ino);
		loaded = load_file(store->dir, dir_fd, entry->d_name, &identity,
				   err, err_size);
		if (loaded < 0)
			r = -1;
		else if (loaded > 0 &&
			 push_identity(store, identity, &capacity) < 0) {
			cp_identity_free(identity);
			cp_set_error(err, err_size, "out of memory");
			r = -1;
		}
	}
	closedir(listing);
	return r;
}

static int
compare_store_order(const void *a, const void *b)
{
	const struct cp_identity *x = *(struct cp_identity *const *)a;
	const struct cp_identity *y = *(struct cp_identity *const *)b;
	int c = strcmp(x->label, y->label);

	return c ? c : strcmp(x->id, y->id);
}

static bool
self_issued(X509 *certificate)
{
	return X509_get_extension_flags(certificate) & EXFLAG_SI;
}

static int
compare_by_subject(const void *a, const void *b)
{
	X509 *x = *(X509 *const *)a;
	X509 *y = *(X509 *const *)b;

	return X509_NAME_cmp(X509_get_subject_name(x),
			     X509_get_subject_name(y));
}

/* Every intermediate CA certificate that some identity holds, sorted by
 * subject. The certificates are borrowed. */
static X509 **
collect_intermediates(const struct cp_store *store, size_t *count)
{
	size_t n = 0, capacity = 0;
	X509 **pool = NULL;

	for (size_t i = 0; i < store->count; i++)
		capacity +=
			(size_t)sk_X509_num(store->identities[i]->own_chain);
	pool = malloc((capacity ? capacity : 1) * sizeof(*pool));
	if (!pool)
		return NULL;
	for (size_t i = 0; i < store->count; i++) {
		STACK_OF(X509) *own = store->identities[i]->own_chain;

		for (int j = 0; j < sk_X509_num(own); j++)
			if (!self_issued(sk_X509_value(own, j)))
				pool[n++] = sk_X509_value(own, j);
	}
	qsort(pool, n, sizeof(*pool), compare_by_subject);
	*count = n;
	return pool;
}

static bool
chain_contains(STACK_OF(X509) *chain, X509 *certificate)
{
	for (int i = 0; i < sk_X509_num(chain); i++)
		if (X509_cmp(sk_X509_value(chain, i), certificate) == 0)
			return true;
	return false;
}

/* Returns an intermediate from the pool that issued certificate and is not
 * in chain yet, or NULL. */
static X509 *
find_issuer(X509 **pool, size_t n, X509 *certificate, STACK_OF(X509) *chain)
{
	const X509_NAME *issuer = X509_get_issuer_name(certificate);
	size_t low = 0, high = n;

	while (low < high) {
		size_t middle = low + (high - low) / 2;

		if (X509_NAME_cmp(X509_get_subject_name(pool[middle]), issuer) <
		    0)
			low = middle + 1;
		else
			high = middle;
	}
	for (size_t i = low; i < n; i++) {
		if (X509_NAME_cmp(X509_get_subject_name(pool[i]), issuer) != 0)
			break;
		if (X509_check_issued(pool[i], certificate) == X509_V_OK &&
		    !chain_contains(chain, pool[i]))
			return pool[i];
	}
	return NULL;
}

/* Completes each identity's chain with intermediates that other
 * identities hold, as browsers do with the certificates they know. */
static int
complete_chains(struct cp_store *store)
{
	size_t n_pool = 0;
	X509 **pool = collect_intermediates(store, &n_pool);

	if (!pool)
		return -1;
	for (size_t i = 0; i < store->count; i++) {
		struct cp_identity *identity = store->identities[i];
		STACK_OF(X509) *chain = X509_chain_up_ref(identity->own_chain);
		X509 *top;

		if (!chain) {
			free(pool);
			return -1;
		}
		identity->chain = chain;
		top = identity->leaf;
		if (sk_X509_num(chain) > 0)
			top = sk_X509_value(chain, sk_X509_num(chain) - 1);
		while (!self_issued(top) && sk_X509_num(chain) < CP_CHAIN_MAX) {
			X509 *issuer = find_issuer(pool, n_pool, top, chain);

			if (!issuer || !sk_X509_push(chain, issuer))
				break;
			X509_up_ref(issuer);
			top = issuer;
		}
	}
	free(pool);
	return 0;
}

struct issued_by {
	const X509_NAME *issuer;
	size_t identity;
};

static int
compare_issued_by(const void *a, const void *b)
{
	const struct issued_by *x = a, *y = b;
	int c = X509_NAME_cmp(x->issuer, y->issuer);

	if (c)
		return c;
	return (x->identity > y->identity) - (x->identity < y->identity);
}

/* Collects (issuer name, identity) for every certificate of every chain,
 * leaf included, sorted by name. */
static struct issued_by *
collect_issuers(const struct cp_store *store, size_t *count)
{
	size_t n = 0, capacity = store->count;
	struct issued_by *pairs;

	for (size_t i = 0; i < store->count; i++)
		capacity += (size_t)sk_X509_num(store->identities[i]->chain);
	pairs = malloc((capacity ? capacity : 1) * sizeof(*pairs));
	if (!pairs)
		return NULL;
	for (size_t i = 0; i < store->count; i++) {
		struct cp_identity *identity = store->identities[i];

		pairs[n++] = (struct issued_by){
			X509_get_issuer_name(identity->leaf), i};
		for (int j = 0; j < sk_X509_num(identity->chain); j++)
			pairs[n++] = (struct issued_by){
				X509_get_issuer_name(
					sk_X509_value(identity->chain, j)),
				i};
	}
	qsort(pairs, n, sizeof(*pairs), compare_issued_by);
	*count = n;
	return pairs;
}

/* Builds the issuer index: each distinct issuer name once, with the
 * identities whose chain it issued a certificate of. */
static int
index_issuers(struct cp_store *store)
{
	size_t n = 0;
	struct issued_by *pairs = collect_issuers(store, &n);
	size_t members = 0;

	if (!pairs)
		return -1;
	store->issuers = malloc((n ? n : 1) * sizeof(*store->issuers));
	store->issuer_members = malloc((n ? n : 1) * sizeof(size_t));
	if (!store->issuers || !store->issuer_members) {
		free(pairs);
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		struct cp_issuer_entry *last =
			store->n_issuers ? &store->issuers[store->n_issuers - 1]
					 : NULL;

		if (!last || X509_NAME_cmp(last->name, pairs[i].issuer) != 0) {
			last = &store->issuers[store->n_issuers++];
			*last = (struct cp_issuer_entry){pairs[i].issuer,
							 members, 0};
		} else if (store->issuer_members[members - 1] ==
			   pairs[i].identity) {
			continue; /* two certificates with the same issuer */
		}
		store->issuer_members[members++] = pairs[i].identity;
		last->count++;
	}
	free(pairs);
	return 0;
}

static int
compare_best_first(const void *a, const void *b, void *arg)
{
	const struct cp_store *store = arg;
	const struct cp_identity *x = store->identities[*(const size_t *)a];
	const struct cp_identity *y = store->identities[*(const size_t *)b];
	int x_len = sk_X509_num(x->chain), y_len = sk_X509_num(y->chain);

	if (x->not_after != y->not_after)
		return x->not_after > y->not_after ? -1 : 1;
	if (x->not_before != y->not_before)
		return x->not_before > y->not_before ? -1 : 1;
	if (x_len != y_len)
		return x_len < y_len ? -1 : 1;
	return (x->index > y->index) - (x->index < y->index);
}

static int
index_key_classes(struct cp_store *store)
{
	for (size_t i = 0; i < store->count; i++) {
		struct cp_identity *identity = store->identities[i];
		size_t k;

		for (k = 0; k < store->n_key_classes; k++)
			if (store->key_classes[k].key_type ==
				    identity->key_type &&
			    store->key_classes[k].curve_nid ==
				    identity->curve_nid)
				break;
		if (k == store->n_key_classes) {
			struct cp_key_class *grown = realloc(
				store->key_classes, (k + 1) * sizeof(*grown));

			if (!grown)
				return -1;
			store->key_classes = grown;
			grown[k] = (struct cp_key_class){identity->key_type,
							 identity->curve_nid};
			store->n_key_classes++;
		}
		identity->key_class = k;
	}
	return 0;
}

/* Sorts the identities into store order and builds what the matcher
 * needs, so that a request costs a few lookups and one pass. */
static int
build_indexes(struct cp_store *store)
{
	if (store->count > 0)
		qsort(store->identities, store->count,
		      sizeof(*store->identities), compare_store_order);
	for (size_t i = 0; i < store->count; i++)
		store->identities[i]->index = i;

	if (complete_chains(store) < 0 || index_issuers(store) < 0 ||
	    index_key_classes(store) < 0)
		return -1;

	store->best_first = malloc((store->count ? store->count : 1) *
				   sizeof(*store->best_first));
	if (!store->best_first)
		return -1;
	for (size_t i = 0; i < store->count; i++)
		store->best_first[i] = i;
	qsort_r(store->best_first, store->count, sizeof(*store->best_first),
		compare_best_first, store);
	return 0;
}

static void
free_content(struct cp_store *store)
{
	for (size_t i = 0; i < store->count; i++)
		cp_identity_free(store->identities[i]);
	free(store->identities);
	free(store->best_first);
	free(store->issuers);
	free(store->issuer_members);
	free(store->key_classes);
}

/* Notes whether a change could hide in the directory's modification time:
 * timestamps come from a clock that ticks every few milliseconds, so a
 * change right after a load may leave the time as it was. */
static void
note_dir_state(struct cp_store *store, const struct stat *st,
	       const struct timespec *load_start)
{
	store->dir_dev = st->st_dev;
	store->dir_ino = st->st_ino;
	store->dir_mtime = st->st_mtim;
	store->mtime_ambiguous = load_start->tv_sec - st->st_mtim.tv_sec < 2;
}

/* Loads the directory into a new store object. */
static struct cp_store *
load_store(const char *dir, bool warn, char *err, size_t err_size)
{
	struct cp_store *store = calloc(1, sizeof(*store));
	struct timespec load_start;
	struct stat st;
	int dir_fd = -1;

	if (!store || !(store->dir = strdup(dir))) {
		cp_set_error(err, err_size, "out of memory");
		goto fail;
	}
	clock_gettime(CLOCK_REALTIME, &load_start);
	dir_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dir_fd < 0 || fstat(dir_fd, &st) < 0) {
		cp_set_error(err, err_size, "cannot open the store %s: %s", dir,
			     strerror(errno));
		goto fail;
	}
	if (check_dir(dir, &st, warn, err, err_size) < 0 ||
	    load_files(store, dir_fd, err, err_size) < 0)
		goto fail;
	if (build_indexes(store) < 0) {
		cp_set_error(err, err_size, "out of memory");
		goto fail;
	}
	note_dir_state(store, &st, &load_start);
	close(dir_fd);
	log_debug("loaded %zu identities from %s", store->count, dir);
	return store;

fail:
	if (dir_fd >= 0)
		close(dir_fd);
	cp_store_free(store);
	return NULL;
}

int
cp_store_open(const char *dir, struct cp_store **out, char *err,
	      size_t err_size)
{
	if (!dir) {
		cp_set_error(err, err_size,
			     "no store directory: set HOME, XDG_DATA_HOME or "
			     "CERTPICK_STORE, or pass --store DIR");
		return -1;
	}
	if (make_dirs(dir, err, err_size) < 0)
		return -1;
	*out = load_store(dir, true, err, err_size);
	return *out ? 0 : -1;
}

void
cp_store_free(struct cp_store *store)
{
	if (!store)
		return;
	free_content(store);
	free(store->dir);
	free(store);
}

int
cp_store_reload(struct cp_store *store, char *err, size_t err_size)
{
	struct cp_store *fresh = load_store(store->dir, false, err, err_size);
	struct cp_store old;

	if (!fresh)
		return -1;
	for (size_t i = 0; i < fresh->count; i++) {
		struct cp_identity *previous =
			cp_store_find(store, fresh->identities[i]->id);

		if (previous)
			cp_identity_take_key(fresh->identities[i], previous);
	}
	old = *store;
	*store = *fresh;
	*fresh = old;
	cp_store_free(fresh);
	return 0;
}

static int
listing_hash(const char *dir, uint64_t *hash)
{
	DIR *listing = opendir(dir);
	struct dirent *entry;

	if (!listing)
		return -1;
	*hash = 0;
	while ((entry = readdir(listing)))
		if (is_identity_file(entry->d_name))
			*hash += entry_hash(entry->d_name, entry->d_ino);
	closedir(listing);
	return 0;
}

int
cp_store_refresh(struct cp_store *store, char *err, size_t err_size)
{
	struct timespec now;
	struct stat st;
	uint64_t hash;
	bool changed;

	if (stat(store->dir, &st) < 0) {
		cp_set_error(err, err_size, "cannot read the store %s: %s",
			     store->dir, strerror(errno));
		return -1;
	}
	changed = st.st_dev != store->dir_dev || st.st_ino != store->dir_ino ||
		  st.st_mtim.tv_sec != store->dir_mtime.tv_sec ||
		  st.st_mtim.tv_nsec != store->dir_mtime.tv_nsec;
	if (!changed && store->mtime_ambiguous) {
		clock_gettime(CLOCK_REALTIME, &now);
		if (listing_hash(store->dir, &hash) < 0) {
			cp_set_error(err, err_size, "cannot list %s: %s",
				     store->dir, strerror(errno));
			return -1;
		}
		changed = hash != store->listing_hash;
		/* Once the clock has left the tick, a later change moves the
		 * modification time, so the listing need not be read again. */
		if (!changed && now.tv_sec - st.st_mtim.tv_sec >= 2)
			store->mtime_ambiguous = false;
	}
	if (!changed)
		return 0;
	return cp_store_reload(store, err, err_size) < 0 ? -1 : 1;
}

size_t
cp_store_count(const struct cp_store *store)
{
	return store->count;
}

struct cp_identity *
cp_store_get(const struct cp_store *store, size_t index)
{
	return index < store->count ? store->identities[index] : NULL;
}

struct cp_identity *
cp_store_find(const struct cp_store *store, const char *id)
{
	for (size_t i = 0; i < store->count; i++)
		if (strcmp(store->identities[i]->id, id) == 0)
			return store->identities[i];
	return NULL;
}

static int
sync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int r;

	if (fd < 0)
		return -1;
	r = fsync(fd);
	close(fd);
	return r;
}

int
cp_store_write_file(struct cp_store *store, const char *name, const char *data,
		    size_t len, char *err, size_t err_size)
{
	char path[PATH_MAX], temporary[PATH_MAX];
	int fd;

	if (snprintf(path, sizeof(path), "%s/%s", store->dir, name) >=
		    (int)sizeof(path) ||
	    snprintf(temporary, sizeof(temporary), "%s/.%s.XXXXXX", store->dir,
		     name) >= (int)sizeof(temporary)) {
		cp_set_error(err, err_size, "the store path is too long");
		return -1;
	}

	/* mkostemp creates the file with mode 0600. */
	fd = mkostemp(temporary, O_CLOEXEC);
	if (fd < 0) {
		cp_set_error(err, err_size, "cannot create a file in %s: %s",
			     store->dir, strerror(errno));
		return -1;
	}
	if (cp_write_all(fd, data, len) < 0 || fsync(fd) < 0) {
		cp_set_error(err, err_size, "cannot write %s: %s", temporary,
			     strerror(errno));
		close(fd);
		goto fail;
	}
	if (close(fd) < 0) {
		cp_set_error(err, err_size, "cannot write %s: %s", temporary,
			     strerror(errno));
		goto fail;
	}
	if (rename(temporary, path) < 0) {
		cp_set_error(err, err_size, "cannot rename %s to %s: %s",
			     temporary, path, strerror(errno));
		goto fail;
	}
	if (sync_dir(store->dir) < 0)
		log_warning("cannot sync the store directory %s: %s",
			    store->dir, strerror(errno));
	return 0;

fail:
	unlink(temporary);
	return -1;
}

int
cp_store_remove(struct cp_store *store, const char *id, char *err,
		size_t err_size)
{
	char path[PATH_MAX];

	if (!cp_id_valid(id)) {
		cp_set_error(err, err_size,
			     "invalid identity id '%.80s': expected 64 "
			     "lowercase hex digits",
			     id);
		return -1;
	}
	snprintf(path, sizeof(path), "%s/%s%s", store->dir, id,
		 CP_STORE_FILE_SUFFIX);
	if (unlink(path) < 0) {
		if (errno == ENOENT)
			cp_set_error(err, err_size,
				     "no identity %s in the store %s", id,
				     store->dir);
		else
			cp_set_error(err, err_size, "cannot remove %s: %s",
				     path, strerror(errno));
		return -1;
	}
	if (sync_dir(store->dir) < 0)
		log_warning("cannot sync the store directory %s: %s",
			    store->dir, strerror(errno));
	return cp_store_reload(store, err, err_size);
}
