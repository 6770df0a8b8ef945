/* The matcher: which identities a server's certificate request accepts,
 * and every reason why the others are excluded. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <time.h>

#include <openssl/x509.h>

#include "store.h"

/* Why an identity is excluded; a verdict holds a bit set of them. */
enum cp_reason {
	CP_REASON_ISSUER_NOT_ACCEPTED = 1 << 0,
	CP_REASON_EXPIRED = 1 << 1,
	CP_REASON_NOT_YET_VALID = 1 << 2,
	CP_REASON_NO_CLIENT_AUTH_EKU = 1 << 3,
	CP_REASON_KEY_USAGE_LACKS_DIGITAL_SIGNATURE = 1 << 4,
	CP_REASON_KEY_TYPE_NOT_ACCEPTED = 1 << 5,
	CP_REASON_KEY_UNAVAILABLE = 1 << 6,
};

#define CP_REASON_COUNT 7

/* Returns the stable code of one reason, such as "issuer-not-accepted",
 * or NULL for a value that is not a single reason. */
const char *cp_reason_code(enum cp_reason reason);

struct cp_match_request {
	/* The server's acceptable CA names. NULL and empty both mean that
	 * the server named none, which accepts every issuer. */
	STACK_OF(X509_NAME) *ca_names;
	/* IANA names of the signature schemes the server accepts; NULL
	 * means any. Unknown names are ignored. */
	const char *const *sigalgs;
	size_t n_sigalgs;
	bool tls13;
	time_t now; /* 0: the current time */
};

/* Returns true when the request names CA names. False means that the
 * server named none, so every issuer is accepted; results should say so. */
bool cp_match_ca_names_given(const struct cp_match_request *request);

struct cp_verdict {
	struct cp_identity *identity;
	unsigned reasons; /* 0 when eligible */
};

/* Judges every identity in the store. *verdicts receives a new array (free
 * it) with eligible identities first, best first (valid, then latest
 * notAfter, newest notBefore, shortest chain), then the excluded ones; ties
 * keep store order. Returns the number of verdicts, or -1 when out of
 * memory. */
ssize_t cp_match(struct cp_store *store, const struct cp_match_request *request,
		 struct cp_verdict **verdicts);

/* Judges one identity of the store, as cp_match would, and returns its
 * reasons: 0 when it is eligible. identity must come from store. */
unsigned cp_match_identity(const struct cp_store *store,
			   const struct cp_match_request *request,
			   const struct cp_identity *identity);

/* Adds "reasons": [codes...] and "eligible" to a JSON object. Returns 0, or
 * -1 when out of memory. */
int cp_verdict_add_json(const struct cp_verdict *verdict, json_t *object);
