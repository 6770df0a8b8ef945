/* Small file helpers shared by certpickd and the certpick command. */
#pragma once

#include <stddef.h>

/* Writes all len bytes of data to fd, going on after a short write or
 * EINTR. Returns 0, or -1 with errno set. */
int cp_write_all(int fd, const char *data, size_t len);
