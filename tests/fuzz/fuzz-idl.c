/* Fuzz target for the Varlink interface parser: any text must parse or
 * fail cleanly, and a parsed interface must check a sample value. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "varlink-idl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1);
	struct vl_interface *interface;
	char error[256], bad[128];
	json_t *sample;

	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	interface = vl_interface_parse(text, error, sizeof(error));
	if (interface) {
		sample = json_pack("{s:i,s:[s],s:{s:b}}", "a", 1, "b", "c", "d",
				   "e", 1);
		vl_interface_check(interface, VL_CHECK_INPUT, "A", sample, bad,
				   sizeof(bad));
		json_decref(sample);
		vl_interface_free(interface);
	}
	free(text);
	return 0;
}
