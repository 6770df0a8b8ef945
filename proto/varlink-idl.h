/* Varlink interface definitions: parsed from the .varlink files in proto/,
 * served by GetInterfaceDescription, and used to check every call's
 * parameters before a handler sees them. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

struct vl_interface;

/* Parses an interface definition. Returns NULL on a syntax error, with a
 * message naming the line in error[0..error_size). The interface keeps a
 * copy of description. */
struct vl_interface *vl_interface_parse(const char *description, char *error,
					size_t error_size);

void vl_interface_free(struct vl_interface *interface);

/* The interface name, such as "org.certpick.Agent". */
const char *vl_interface_name(const struct vl_interface *interface);

/* The definition text as given to vl_interface_parse. */
const char *vl_interface_description(const struct vl_interface *interface);

/* Returns true when the interface declares a method (or error) with this
 * short name, such as "Select". */
bool vl_interface_has_method(const struct vl_interface *interface,
			     const char *name);
bool vl_interface_has_error(const struct vl_interface *interface,
			    const char *name);

enum vl_check {
	VL_CHECK_INPUT,	 /* a method's parameters */
	VL_CHECK_OUTPUT, /* a method's reply */
	VL_CHECK_ERROR,	 /* an error's parameters */
};

/* Checks parameters against the declared types of a method's input or
 * output, or of an error. Optional members may be absent or null; unknown
 * members are rejected. Returns 0, or -1 with the path of the first wrong
 * member (such as "candidates[2].id") in bad[0..bad_size). */
int vl_interface_check(const struct vl_interface *interface, enum vl_check what,
		       const char *name, const json_t *parameters, char *bad,
		       size_t bad_size);
