/* Fuzz target for the strict base64 decoder: whatever it accepts must
 * encode back to exactly the same text. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base64.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *decoded;
	size_t len;
	char *encoded;

	if (cp_base64_decode((const char *)data, size, &decoded, &len) < 0)
		return 0;
	encoded = cp_base64_encode(decoded, len);
	if (!encoded || strlen(encoded) != size ||
	    memcmp(encoded, data, size) != 0)
		abort();
	free(encoded);
	free(decoded);
	return 0;
}
