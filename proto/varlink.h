/* The Varlink wire format: JSON objects, each followed by a NUL byte.
 * This core works on plain byte buffers so that libevent programs (through
 * varlink-event.h) and the GLib picker share one decoder. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

/* Largest message accepted, NUL included. A server's CertificateRequest can
 * carry around 100 KB of CA names, which base64 and JSON grow by a third;
 * 1 MiB leaves room for that and for a TLS 1.2 transcript sent to Sign. */
#define VL_MESSAGE_MAX (1024 * 1024)

/* Deepest nesting of arrays and objects accepted. The certpick interfaces
 * nest four levels; the bound stops a peer from exhausting the stack of a
 * recursive parser with a message like "[[[[...". */
#define VL_DEPTH_MAX 32

/* Why a stream or a message was rejected. The stream errors (VL_E_TOO_LARGE)
 * leave the stream unusable; for the others only one message is lost. */
enum vl_status {
	VL_OK = 0,
	VL_E_TOO_LARGE = -1,
	VL_E_UTF8 = -2,
	VL_E_JSON = -3,
	VL_E_NOT_OBJECT = -4,
	VL_E_DEPTH = -5,
	VL_E_NO_MEMORY = -6,
	VL_E_NOT_CALL = -7,
	VL_E_NOT_REPLY = -8,
};

/* Returns a short English description of a vl_status value. */
const char *vl_status_string(int status);

/* Flags of a call. */
enum {
	VL_CALL_ONEWAY = 1 << 0,
	VL_CALL_MORE = 1 << 1,
};

/* A call, with borrowed references into the decoded message. */
struct vl_call {
	const char *method;
	json_t *parameters; /* always an object, possibly empty */
	unsigned flags;
};

/* A reply or an error, with borrowed references into the decoded message.
 * error is NULL for a reply. */
struct vl_reply {
	const char *error;
	json_t *parameters; /* always an object, possibly empty */
	bool continues;
};

/* Returns true when data[0..len) is well-formed UTF-8: no overlong forms,
 * no surrogates, nothing above U+10FFFF. */
bool vl_utf8_valid(const char *data, size_t len);

/* Decodes one message of len bytes (its NUL excluded) into *out, a new JSON
 * object. Returns VL_OK or a negative vl_status. */
int vl_message_decode(const char *data, size_t len, json_t **out);

/* Reads a decoded message as a call or as a reply, adding an empty
 * "parameters" object to msg when it has none. Returns VL_OK, or
 * VL_E_NOT_CALL / VL_E_NOT_REPLY when a member has the wrong type. */
int vl_message_to_call(json_t *msg, struct vl_call *call);
int vl_message_to_reply(json_t *msg, struct vl_reply *reply);

/* Returns why vl_message_to_call rejects msg, for a log line, or NULL when
 * it accepts it. */
const char *vl_call_problem(const json_t *msg);

/* Builds messages. Each steals the reference to parameters (which may be
 * NULL for an empty object) and returns NULL when out of memory. */
json_t *vl_call_new(const char *method, json_t *parameters, unsigned flags);
json_t *vl_reply_new(json_t *parameters, bool continues);
json_t *vl_error_new(const char *error, json_t *parameters);

/* Serializes msg into a new buffer that ends with the NUL terminator, which
 * *len counts. Returns NULL with errno set to ENOMEM when out of memory, or
 * to EMSGSIZE when msg nests deeper than VL_DEPTH_MAX or the encoding would
 * exceed VL_MESSAGE_MAX. Free the buffer with vl_buffer_free. */
char *vl_message_encode(const json_t *msg, size_t *len);

/* Wipes and frees a buffer from vl_message_encode; accepts NULL. */
void vl_buffer_free(char *buffer, size_t len);

/* Makes jansson wipe every block it frees, so that passphrases received in
 * messages do not linger in freed memory. Call once, before any JSON value
 * exists. */
void vl_json_use_wiping_allocator(void);

/* An incremental decoder over a plain byte buffer. Feed it what the socket
 * returned; take complete messages from it. Zero-initialize it before use. */
struct vl_reader {
	char *data;
	size_t len;	/* bytes held */
	size_t cap;	/* bytes allocated */
	size_t scanned; /* prefix already known to contain no NUL */
};

/* Appends len bytes; take every complete message before feeding more.
 * Returns VL_OK, VL_E_NO_MEMORY, or VL_E_TOO_LARGE when a message would
 * exceed VL_MESSAGE_MAX, checked before the buffer grows. */
int vl_reader_feed(struct vl_reader *reader, const void *data, size_t len);

/* Takes the next complete message. Returns 1 with *out set, 0 when no whole
 * message is buffered, or a negative vl_status for a message that was
 * consumed but could not be decoded. */
int vl_reader_next(struct vl_reader *reader, json_t **out);

/* Returns true when part of a message is buffered. */
bool vl_reader_has_partial(const struct vl_reader *reader);

/* Wipes and frees the buffer and resets the reader. */
void vl_reader_clear(struct vl_reader *reader);

/* The standard errors of the org.varlink.service interface. */
#define VL_ERROR_INTERFACE_NOT_FOUND "org.varlink.service.InterfaceNotFound"
#define VL_ERROR_METHOD_NOT_FOUND "org.varlink.service.MethodNotFound"
#define VL_ERROR_METHOD_NOT_IMPLEMENTED \
	"org.varlink.service.MethodNotImplemented"
#define VL_ERROR_INVALID_PARAMETER "org.varlink.service.InvalidParameter"
#define VL_ERROR_PERMISSION_DENIED "org.varlink.service.PermissionDenied"
#define VL_ERROR_EXPECTED_MORE "org.varlink.service.ExpectedMore"
