/* certpickd's bounds on what its peers can make it hold. Each is enforced
 * where the peer's bytes or requests arrive, before the daemon allocates
 * for them. The message size limit is VL_MESSAGE_MAX in proto/varlink.h. */
#pragma once

/* Client connections open at once. A browser opens a few per handshake in
 * progress; the bound keeps descriptors and per-connection buffers within
 * reach. certpickd lowers it when RLIMIT_NOFILE cannot hold it. */
#define CP_CONNECTIONS_MAX 2048

/* Connections accepted above CP_CONNECTIONS_MAX only to reply LimitReached
 * to their first call. Beyond this many they are closed at once. */
#define CP_CONNECTIONS_OVERFLOW_MAX 64

/* Select calls of one connection that may be in flight at once. A TLS
 * handshake requests one certificate at a time. */
#define CP_SELECTS_PER_CONNECTION_MAX 1

/* Select requests waiting for the person, over all connections. */
#define CP_QUEUE_MAX 1024

/* Calls of one connection decoded but without their final reply yet.
 * Further input is left unread until replies drain, so a client that
 * pipelines cannot grow the daemon's memory without bound. */
#define CP_CALLS_PER_CONNECTION_MAX 64

/* Reply bytes buffered for one connection before certpickd stops reading
 * its calls. A subscriber that falls this far behind is disconnected. */
#define CP_OUTPUT_BUFFER_MAX (4 * 1024 * 1024)

/* Seconds a partly received message may wait for its remaining bytes. A
 * local client writes a whole message at once, so only a stalled or
 * hostile peer leaves one half sent this long. */
#define CP_PARTIAL_MESSAGE_SECONDS 10

/* Wrong passphrases the person may enter for one key in one dialog. */
#define CP_PASSPHRASE_TRIES_MAX 3

/* Default seconds that a Select waits for the person (--timeout). */
#define CP_TIMEOUT_DEFAULT_SECONDS 120
#define CP_TIMEOUT_MAX_SECONDS 86400

/* Seconds that an idle picker process is kept for the next dialog, and
 * that a closed picker gets to exit before it is killed. */
#define CP_PICKER_IDLE_SECONDS 300
#define CP_PICKER_EXIT_SECONDS 5

/* Seconds that the picker gets to reply to Close. It needs no person for
 * that, so a picker that takes longer has hung and is stopped. */
#define CP_PICKER_CLOSE_SECONDS 5

/* Bytes of one Choose call to the picker, NUL included. Each identity
 * takes about 0.9 KiB of the call, so a store of about 1,100 would pass
 * VL_MESSAGE_MAX. certpickd then leaves out the excluded identities first,
 * then the lowest-ranked eligible ones, and sends the picker how many. The
 * remaining quarter of VL_MESSAGE_MAX is a margin for new members. */
#define CP_CHOOSE_CALL_MAX (768 * 1024)

/* Maximum length of a host name (253 characters in text form, from the
 * 255-octet limit of RFC 1035) and of a parent window handle in a
 * Select. */
#define CP_HOST_MAX 253
#define CP_PARENT_WINDOW_MAX 256
