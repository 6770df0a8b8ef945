/* The matcher: judges every identity in the store against one server's
 * certificate request, using the indexes built when the store loaded. */
#include "matcher.h"

#include <stdlib.h>

#include "store-private.h"

static const char *const reason_codes[CP_REASON_COUNT] = {
	"issuer-not-accepted",
	"expired",
	"not-yet-valid",
	"no-client-auth-eku",
	"key-usage-lacks-digital-signature",
	"key-type-not-accepted",
	"key-unavailable",
};

const char *
cp_reason_code(enum cp_reason reason)
{
	for (int i = 0; i < CP_REASON_COUNT; i++)
		if ((unsigned)reason == 1u << i)
			return reason_codes[i];
	return NULL;
}

bool
cp_match_ca_names_given(const struct cp_match_request *request)
{
	return request->ca_names && sk_X509_NAME_num(request->ca_names) > 0;
}

static const struct cp_issuer_entry *
find_issuer(const struct cp_store *store, const X509_NAME *name)
{
	size_t low = 0, high = store->n_issuers;

	while (low < high) {
		size_t middle = low + (high - low) / 2;
		int c = X509_NAME_cmp(store->issuers[middle].name, name);

		if (c == 0)
			return &store->issuers[middle];
		if (c < 0)
			low = middle + 1;
		else
			high = middle;
	}
	return NULL;
}

/* Marks the identities that some certificate of their chain ties to one
 * of the request's CA names. Returns a new array, or NULL. */
static bool *
accepted_by_names(const struct cp_store *store,
		  const struct cp_match_request *request)
{
	bool *accepted =
		calloc(store->count ? store->count : 1, sizeof(*accepted));

	if (!accepted)
		return NULL;
	for (int i = 0; i < sk_X509_NAME_num(request->ca_names); i++) {
		const struct cp_issuer_entry *entry = find_issuer(
			store, sk_X509_NAME_value(request->ca_names, i));

		for (size_t j = 0; entry && j < entry->count; j++)
			accepted[store->issuer_members[entry->first + j]] =
				true;
	}
	return accepted;
}

/* Decides, once per key class, whether any of the server's signature
 * schemes can sign with such a key. Returns a new array, or NULL. */
static bool *
key_classes_accepted(const struct cp_store *store,
		     const struct cp_match_request *request)
{
	bool *fits = calloc(store->n_key_classes ? store->n_key_classes : 1,
			    sizeof(*fits));

	if (!fits)
		return NULL;
	for (size_t k = 0; k < store->n_key_classes; k++) {
		const struct cp_key_class *class = &store->key_classes[k];

		fits[k] = request->sigalgs == NULL;
		for (size_t i = 0; !fits[k] && i < request->n_sigalgs; i++) {
			const struct cp_sigalg *alg =
				cp_sigalg_by_name(request->sigalgs[i]);

			fits[k] =
				alg && cp_sigalg_fits_key(alg, class->key_type,
							  class->curve_nid,
							  request->tls13);
		}
	}
	return fits;
}

static unsigned
judge(const struct cp_identity *identity, time_t now, bool issuer_accepted,
      bool key_fits)
{
	unsigned reasons = identity->fixed_reasons;

	if (!issuer_accepted)
		reasons |= CP_REASON_ISSUER_NOT_ACCEPTED;
	if (now > identity->not_after)
		reasons |= CP_REASON_EXPIRED;
	if (now < identity->not_before)
		reasons |= CP_REASON_NOT_YET_VALID;
	if (!key_fits)
		reasons |= CP_REASON_KEY_TYPE_NOT_ACCEPTED;
	return reasons;
}

/* Which of the three groups of the result a verdict belongs to: eligible,
 * excluded but valid now, excluded and outside its validity period. */
static int
group_of(unsigned reasons)
{
	if (reasons == 0)
		return 0;
	if (!(reasons & (CP_REASON_EXPIRED | CP_REASON_NOT_YET_VALID)))
		return 1;
	return 2;
}

ssize_t
cp_match(struct cp_store *store, const struct cp_match_request *request,
	 struct cp_verdict **verdicts)
{
	size_t n = store->count, k = 0;
	time_t now = request->now ? request->now : time(NULL);
	bool *accepted = NULL, *fits = NULL;
	unsigned *reasons = malloc((n ? n : 1) * sizeof(*reasons));
	struct cp_verdict *out = malloc((n ? n : 1) * sizeof(*out));
	ssize_t r = -1;

	if (!reasons || !out)
		goto done;
	if (cp_match_ca_names_given(request) &&
	    !(accepted = accepted_by_names(store, request)))
		goto done;
	if (!(fits = key_classes_accepted(store, request)))
		goto done;

	for (size_t i = 0; i < n; i++) {
		const struct cp_identity *identity = store->identities[i];

		reasons[i] = judge(identity, now,
				   !accepted || accepted[identity->index],
				   fits[identity->key_class]);
	}

	/* best_first is the order by dates and chain length. Walking it once
	 * per group keeps that order, and store order among ties. */
	for (int group = 0; group < 3; group++)
		for (size_t i = 0; i < n; i++) {
			size_t index = store->best_first[i];

			if (group_of(reasons[index]) != group)
				continue;
			out[k++] = (struct cp_verdict){store->identities[index],
						       reasons[index]};
		}
	*verdicts = out;
	out = NULL;
	r = (ssize_t)n;

done:
	free(out);
	free(fits);
	free(accepted);
	free(reasons);
	return r;
}

/* Returns true when a certificate of the identity's chain ties it to one
 * of the request's CA names, through the same index as accepted_by_names. */
static bool
issuer_accepted(const struct cp_store *store,
		const struct cp_match_request *request,
		const struct cp_identity *identity)
{
	for (int i = 0; i < sk_X509_NAME_num(request->ca_names); i++) {
		const struct cp_issuer_entry *entry = find_issuer(
			store, sk_X509_NAME_value(request->ca_names, i));

		for (size_t j = 0; entry && j < entry->count; j++)
			if (store->issuer_members[entry->first + j] ==
			    identity->index)
				return true;
	}
	return false;
}

/* Decides, as key_classes_accepted does for every class, whether the
 * server's signature schemes accept the identity's key. */
static bool
key_accepted(const struct cp_match_request *request,
	     const struct cp_identity *identity)
{
	if (!request->sigalgs)
		return true;
	for (size_t i = 0; i < request->n_sigalgs; i++) {
		const struct cp_sigalg *alg =
			cp_sigalg_by_name(request->sigalgs[i]);

		if (alg &&
		    cp_sigalg_fits_key(alg, identity->key_type,
				       identity->curve_nid, request->tls13))
			return true;
	}
	return false;
}

unsigned
cp_match_identity(const struct cp_store *store,
		  const struct cp_match_request *request,
		  const struct cp_identity *identity)
{
	time_t now = request->now ? request->now : time(NULL);

	return judge(identity, now,
		     !cp_match_ca_names_given(request) ||
			     issuer_accepted(store, request, identity),
		     key_accepted(request, identity));
}

int
cp_verdict_add_json(const struct cp_verdict *verdict, json_t *object)
{
	json_t *codes = json_array();

	if (!codes)
		return -1;
	for (int i = 0; i < CP_REASON_COUNT; i++)
		if ((verdict->reasons & (1u << i)) &&
		    json_array_append_new(codes,
					  json_string(reason_codes[i]))) {
			json_decref(codes);
			return -1;
		}
	if (json_object_set_new(object, "reasons", codes) ||
	    json_object_set_new(object, "eligible",
				json_boolean(verdict->reasons == 0)))
		return -1;
	return 0;
}
