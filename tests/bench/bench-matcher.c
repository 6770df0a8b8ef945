/* Times the matcher for 100, 1,000 and 10,000 identities against a
 * certificate request with 200 CA names. A baseline in the same process
 * compares every CA name with every issuer of every chain, as a matcher
 * without the store's index would.
 *
 *   bench-matcher [MAX_IDENTITIES]
 *
 * It writes the identities into temporary stores, so the load time it
 * prints includes reading and parsing the files. Run it from a release
 * or debugoptimized build without sanitizers. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/x509v3.h>

#include "matcher.h"
#include "support.h"

#define N_ROOTS 50
#define INTERMEDIATES_PER_ROOT 4
#define N_INTERMEDIATES (N_ROOTS * INTERMEDIATES_PER_ROOT)
#define N_CA_NAMES 200
#define N_KNOWN_CA_NAMES 100 /* of N_CA_NAMES; the rest name no store CA */

/* Repeat each timing until this much time has passed, and at least
 * MIN_RUNS times; the median and the fastest run are printed. */
#define MIN_RUNS 21
#define MIN_SECONDS 0.5

static const char *const server_sigalgs[] = {
	"ecdsa_secp256r1_sha256",
	"ecdsa_secp384r1_sha384",
	"rsa_pss_rsae_sha256",
	"rsa_pss_rsae_sha384",
	"ed25519",
};
#define N_SERVER_SIGALGS (sizeof(server_sigalgs) / sizeof(server_sigalgs[0]))

struct pool {
	EVP_PKEY *ca_key;
	X509 *roots[N_ROOTS];
	X509 *intermediates[N_INTERMEDIATES];
	EVP_PKEY *leaf_keys[4];
	X509 **leaves;
	size_t n_leaves;
};

static double
now_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
make_pool(struct pool *pool, size_t n_leaves)
{
	time_t now = time(NULL);
	char name[64];

	pool->ca_key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	pool->leaf_keys[0] = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	pool->leaf_keys[1] = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384");
	pool->leaf_keys[2] = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
	pool->leaf_keys[3] = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");

	for (int i = 0; i < N_ROOTS; i++) {
		struct mint mint = {name,	  NULL,
				    pool->ca_key, pool->ca_key,
				    now - 86400,  now + 3650 * 86400,
				    true};

		snprintf(name, sizeof(name), "Bench Root CA %03d", i);
		pool->roots[i] = mint_certificate(&mint);
	}
	for (int i = 0; i < N_INTERMEDIATES; i++) {
		struct mint mint = {
			name,	      pool->roots[i / INTERMEDIATES_PER_ROOT],
			pool->ca_key, pool->ca_key,
			now - 86400,  now + 3650 * 86400,
			true};

		snprintf(name, sizeof(name), "Bench Intermediate CA %03d", i);
		pool->intermediates[i] = mint_certificate(&mint);
	}

	/* Four in five leaves come from an intermediate, one in five from a
	 * root; one in seventeen has expired. */
	pool->leaves = calloc(n_leaves, sizeof(*pool->leaves));
	for (size_t i = 0; i < n_leaves; i++) {
		bool direct = i % 5 == 0;
		struct mint mint = {
			name,
			direct ? pool->roots[i % N_ROOTS]
			       : pool->intermediates[i % N_INTERMEDIATES],
			pool->ca_key,
			pool->leaf_keys[i % 4],
			now - 86400 - (time_t)i,
			i % 17 == 0 ? now - 3600
				    : now + 365 * 86400 + (time_t)i,
			false,
		};

		snprintf(name, sizeof(name), "Bench User %05zu", i);
		pool->leaves[i] = mint_certificate(&mint);
	}
	pool->n_leaves = n_leaves;
}

static void
fill_store(const struct pool *pool, const char *dir, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		STACK_OF(X509) *chain = sk_X509_new_null();
		bool direct = i % 5 == 0;

		if (!direct)
			sk_X509_push(chain,
				     pool->intermediates[i % N_INTERMEDIATES]);
		if (write_identity_file(dir, "bench", pool->leaves[i], chain,
					pool->leaf_keys[i % 4]) < 0) {
			fprintf(stderr, "cannot write into %s\n", dir);
			exit(1);
		}
		sk_X509_free(chain);
	}
}

/* CA names as a server sends them: decoded from DER. Half name CAs of the
 * store (roots and intermediates), half name CAs it has never seen. */
static STACK_OF(X509_NAME) *
make_ca_names(const struct pool *pool)
{
	STACK_OF(X509_NAME) *names = sk_X509_NAME_new_null();

	for (int i = 0; i < N_CA_NAMES; i++) {
		X509_NAME *name;

		if (i < N_KNOWN_CA_NAMES / 4)
			name = X509_NAME_dup(
				X509_get_subject_name(pool->roots[i]));
		else if (i < N_KNOWN_CA_NAMES)
			name = X509_NAME_dup(X509_get_subject_name(
				pool->intermediates[i * 2 % N_INTERMEDIATES]));
		else {
			char text[64];
			X509_NAME *built = X509_NAME_new();

			snprintf(text, sizeof(text), "Elsewhere CA %03d", i);
			X509_NAME_add_entry_by_txt(built, "CN", MBSTRING_UTF8,
						   (const unsigned char *)text,
						   -1, -1, 0);
			name = X509_NAME_dup(built);
			X509_NAME_free(built);
		}
		sk_X509_NAME_push(names, name);
	}
	return names;
}

/* The baseline: every CA name against every issuer in every chain, every
 * other check through the public API, then a sort. */
struct judged {
	struct cp_identity *identity;
	unsigned reasons;
	size_t index;
};

static bool
fits_any(const struct cp_identity *identity,
	 const struct cp_match_request *request)
{
	for (size_t i = 0; i < request->n_sigalgs; i++) {
		const struct cp_sigalg *alg =
			cp_sigalg_by_name(request->sigalgs[i]);

		if (alg && cp_sigalg_fits_key(
				   alg, cp_identity_key_type(identity),
				   cp_identity_curve(identity), request->tls13))
			return true;
	}
	return false;
}

static bool
issuer_named(const struct cp_identity *identity,
	     const struct cp_match_request *request)
{
	STACK_OF(X509) *chain = cp_identity_chain(identity);

	for (int n = 0; n < sk_X509_NAME_num(request->ca_names); n++) {
		const X509_NAME *name =
			sk_X509_NAME_value(request->ca_names, n);

		if (X509_NAME_cmp(name, X509_get_issuer_name(cp_identity_leaf(
						identity))) == 0)
			return true;
		for (int c = 0; c < sk_X509_num(chain); c++)
			if (X509_NAME_cmp(name,
					  X509_get_issuer_name(sk_X509_value(
						  chain, c))) == 0)
				return true;
	}
	return false;
}

static unsigned
baseline_judge(struct cp_identity *identity,
	       const struct cp_match_request *request)
{
	X509 *leaf = cp_identity_leaf(identity);
	uint32_t flags = X509_get_extension_flags(leaf);
	time_t now = request->now;
	unsigned reasons = 0;

	if (!issuer_named(identity, request))
		reasons |= CP_REASON_ISSUER_NOT_ACCEPTED;
	if (X509_cmp_time(X509_get0_notAfter(leaf), &now) < 0)
		reasons |= CP_REASON_EXPIRED;
	if (X509_cmp_time(X509_get0_notBefore(leaf), &now) > 0)
		reasons |= CP_REASON_NOT_YET_VALID;
	if ((flags & EXFLAG_XKUSAGE) && !(X509_get_extended_key_usage(leaf) &
					  (XKU_SSL_CLIENT | XKU_ANYEKU)))
		reasons |= CP_REASON_NO_CLIENT_AUTH_EKU;
	if ((flags & EXFLAG_KUSAGE) &&
	    !(X509_get_key_usage(leaf) & KU_DIGITAL_SIGNATURE))
		reasons |= CP_REASON_KEY_USAGE_LACKS_DIGITAL_SIGNATURE;
	if (!fits_any(identity, request))
		reasons |= CP_REASON_KEY_TYPE_NOT_ACCEPTED;
	if (!cp_identity_key_available(identity))
		reasons |= CP_REASON_KEY_UNAVAILABLE;
	return reasons;
}

static int
compare_judged(const void *a, const void *b)
{
	const struct judged *x = a, *y = b;
	X509 *x_leaf = cp_identity_leaf(x->identity);
	X509 *y_leaf = cp_identity_leaf(y->identity);
	int c;

	if ((x->reasons == 0) != (y->reasons == 0))
		return x->reasons == 0 ? -1 : 1;
	c = ASN1_TIME_compare(X509_get0_notAfter(y_leaf),
			      X509_get0_notAfter(x_leaf));
	if (c)
		return c;
	c = ASN1_TIME_compare(X509_get0_notBefore(y_leaf),
			      X509_get0_notBefore(x_leaf));
	if (c)
		return c;
	c = sk_X509_num(cp_identity_chain(x->identity)) -
	    sk_X509_num(cp_identity_chain(y->identity));
	return c ? c : (x->index > y->index) - (x->index < y->index);
}

static size_t
baseline_match(struct cp_store *store, const struct cp_match_request *request,
	       struct judged *out)
{
	size_t n = cp_store_count(store), eligible = 0;

	for (size_t i = 0; i < n; i++) {
		out[i].identity = cp_store_get(store, i);
		out[i].reasons = baseline_judge(out[i].identity, request);
		out[i].index = i;
		eligible += out[i].reasons == 0;
	}
	qsort(out, n, sizeof(*out), compare_judged);
	return eligible;
}

static int
compare_doubles(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

struct timing {
	double median_ms;
	double min_ms;
};

static struct timing
summarize(double *runs, size_t n)
{
	qsort(runs, n, sizeof(*runs), compare_doubles);
	return (struct timing){runs[n / 2] * 1e3, runs[0] * 1e3};
}

static struct timing
time_matcher(struct cp_store *store, const struct cp_match_request *request,
	     size_t *eligible)
{
	double runs[4096], start = now_seconds();
	size_t n = 0;

	while (n < sizeof(runs) / sizeof(runs[0]) &&
	       (n < MIN_RUNS || now_seconds() - start < MIN_SECONDS)) {
		struct cp_verdict *verdicts = NULL;
		double t0 = now_seconds();
		ssize_t count = cp_match(store, request, &verdicts);

		runs[n++] = now_seconds() - t0;
		*eligible = 0;
		for (ssize_t i = 0; i < count; i++)
			*eligible += verdicts[i].reasons == 0;
		free(verdicts);
	}
	return summarize(runs, n);
}

static struct timing
time_baseline(struct cp_store *store, const struct cp_match_request *request,
	      size_t *eligible)
{
	struct judged *out = calloc(cp_store_count(store) + 1, sizeof(*out));
	double runs[4096], start = now_seconds();
	size_t n = 0;

	while (n < sizeof(runs) / sizeof(runs[0]) &&
	       (n < MIN_RUNS || now_seconds() - start < MIN_SECONDS)) {
		double t0 = now_seconds();

		*eligible = baseline_match(store, request, out);
		runs[n++] = now_seconds() - t0;
	}
	free(out);
	return summarize(runs, n);
}

static void
print_machine(void)
{
	FILE *cpuinfo = fopen("/proc/cpuinfo", "r");
	char line[256], model[256] = "unknown CPU";

	while (cpuinfo && fgets(line, sizeof(line), cpuinfo))
		if (strncmp(line, "model name", 10) == 0) {
			char *colon = strchr(line, ':');

			snprintf(model, sizeof(model), "%s",
				 colon ? colon + 2 : line);
			model[strcspn(model, "\n")] = '\0';
			break;
		}
	if (cpuinfo)
		fclose(cpuinfo);
	printf("machine: %s, %ld online CPUs; %s\n", model,
	       sysconf(_SC_NPROCESSORS_ONLN), OpenSSL_version(OPENSSL_VERSION));
}

int
main(int argc, char **argv)
{
	static const size_t sizes[] = {100, 1000, 10000};
	size_t max = argc > 1 ? strtoul(argv[1], NULL, 10) : 10000;
	struct pool pool = {0};
	STACK_OF(X509_NAME) *names;
	struct cp_match_request request = {
		.sigalgs = server_sigalgs,
		.n_sigalgs = N_SERVER_SIGALGS,
		.tls13 = true,
	};
	double t0 = now_seconds();
	int status = 0;

	make_pool(&pool, max);
	names = make_ca_names(&pool);
	request.ca_names = names;
	request.now = time(NULL);
	print_machine();
	printf("request: %d CA names (%d of them issue certificates in the "
	       "store), %zu signature schemes, TLS 1.3\n",
	       N_CA_NAMES, N_KNOWN_CA_NAMES, N_SERVER_SIGALGS);
	printf("made %zu leaves under %d CAs in %.1f s\n\n", max,
	       N_ROOTS + N_INTERMEDIATES, now_seconds() - t0);
	printf("%10s %10s %14s %14s %14s %9s\n", "identities", "load ms",
	       "match median", "match fastest", "baseline med", "eligible");

	for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
		char *dir = make_temp_dir("certpick-bench");
		struct cp_store *store = NULL;
		struct timing matcher, baseline;
		size_t eligible = 0, baseline_eligible = 0;
		char err[1024];
		double load;

		if (sizes[s] > max)
			break;
		fill_store(&pool, dir, sizes[s]);
		t0 = now_seconds();
		if (cp_store_open(dir, &store, err, sizeof(err)) < 0) {
			fprintf(stderr, "%s\n", err);
			return 1;
		}
		load = now_seconds() - t0;
		matcher = time_matcher(store, &request, &eligible);
		baseline = time_baseline(store, &request, &baseline_eligible);
		printf("%10zu %10.1f %11.3f ms %11.3f ms %11.3f ms %9zu\n",
		       sizes[s], load * 1e3, matcher.median_ms, matcher.min_ms,
		       baseline.median_ms, eligible);
		if (eligible != baseline_eligible) {
			fprintf(stderr,
				"the baseline finds %zu eligible identities, "
				"the matcher %zu\n",
				baseline_eligible, eligible);
			status = 1;
		}
		cp_store_free(store);
		remove_tree(dir);
		free(dir);
	}

	sk_X509_NAME_pop_free(names, X509_NAME_free);
	for (int i = 0; i < N_ROOTS; i++)
		X509_free(pool.roots[i]);
	for (int i = 0; i < N_INTERMEDIATES; i++)
		X509_free(pool.intermediates[i]);
	for (size_t i = 0; i < pool.n_leaves; i++)
		X509_free(pool.leaves[i]);
	for (int i = 0; i < 4; i++)
		EVP_PKEY_free(pool.leaf_keys[i]);
	EVP_PKEY_free(pool.ca_key);
	free(pool.leaves);
	return status;
}
