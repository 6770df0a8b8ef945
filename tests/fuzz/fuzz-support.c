/* Temporary files for the fuzz targets; see fuzz-support.h. */
#include "fuzz-support.h"

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char temp_dir[PATH_MAX];

static void
remove_tree(const char *path)
{
	struct stat st;

	if (lstat(path, &st) < 0)
		return;
	if (S_ISDIR(st.st_mode)) {
		fuzz_empty_dir(path);
		rmdir(path);
	} else {
		unlink(path);
	}
}

void
fuzz_empty_dir(const char *dir)
{
	DIR *listing = opendir(dir);
	struct dirent *entry;

	if (!listing)
		return;
	while ((entry = readdir(listing))) {
		char path[PATH_MAX];

		if (strcmp(entry->d_name, ".") == 0 ||
		    strcmp(entry->d_name, "..") == 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, entry->d_name);
		remove_tree(path);
	}
	closedir(listing);
}

static void
remove_temp_dir(void)
{
	if (temp_dir[0])
		remove_tree(temp_dir);
}

const char *
fuzz_temp_dir(void)
{
	const char *base = getenv("TMPDIR");

	if (temp_dir[0])
		return temp_dir;
	if (!base || base[0] != '/')
		base = "/tmp";
	snprintf(temp_dir, sizeof(temp_dir), "%s/certpick-fuzz-XXXXXX", base);
	if (!mkdtemp(temp_dir)) {
		perror("cannot create a temporary directory");
		abort();
	}
	atexit(remove_temp_dir);
	return temp_dir;
}

const char *
fuzz_temp_path(const char *name)
{
	static char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/%s", fuzz_temp_dir(), name);
	return path;
}

const char *
fuzz_write_file(const char *name, const uint8_t *data, size_t size)
{
	const char *path = fuzz_temp_path(name);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	if (fd < 0) {
		perror(path);
		abort();
	}
	while (size > 0) {
		ssize_t n = write(fd, data, size);

		if (n < 0) {
			perror(path);
			abort();
		}
		data += n;
		size -= (size_t)n;
	}
	close(fd);
	return path;
}

char *
fuzz_string(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1);

	if (!text)
		abort();
	memcpy(text, data, size);
	text[size] = '\0';
	return text;
}
