/* Helpers for the fuzz targets that feed files to certpick: a private
 * temporary directory per process and files written into it. Nothing is
 * written outside that directory, which is removed at exit. */
#pragma once

#include <stddef.h>
#include <stdint.h>

/* Returns the process's temporary directory, creating it on first use
 * under $TMPDIR (else /tmp) with mode 0700. Aborts when it cannot. */
const char *fuzz_temp_dir(void);

/* Returns fuzz_temp_dir()/name in a static buffer that the next call
 * overwrites. */
const char *fuzz_temp_path(const char *name);

/* Writes data to fuzz_temp_dir()/name with mode 0600, replacing the file.
 * Returns the path (as fuzz_temp_path), and aborts when it cannot. */
const char *fuzz_write_file(const char *name, const uint8_t *data, size_t size);

/* Removes everything inside dir, which stays. */
void fuzz_empty_dir(const char *dir);

/* Returns data[0..size) as a new NUL-terminated string (free it). */
char *fuzz_string(const uint8_t *data, size_t size);
