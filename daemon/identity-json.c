/* Identities as JSON, in the shapes of org.certpick.Agent's Identity and
 * org.certpick.Picker's Candidate, and the text forms of names and times
 * that both use. */
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/x509v3.h>

#include "base64.h"
#include "store-private.h"

static char *
print_name(const X509_NAME *name, unsigned long flags)
{
	BIO *out = BIO_new(BIO_s_mem());
	char *data = NULL, *text = NULL;
	long len;

	if (!out)
		return NULL;
	if (X509_NAME_print_ex(out, name, 0, flags) >= 0) {
		len = BIO_get_mem_data(out, &data);
		if (len >= 0 && cp_utf8_printable(data, (size_t)len))
			text = strndup(data, (size_t)len);
	}
	BIO_free(out);
	return text;
}

char *
cp_name_to_string(const X509_NAME *name)
{
	/* RFC 2253's flags escape every byte above 0x7f; leaving them as
	 * they are keeps UTF-8 readable, as RFC 4514 allows. A name whose
	 * strings do not convert to UTF-8 is printed fully escaped. */
	char *text = print_name(name, XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB);

	return text ? text : print_name(name, XN_FLAG_RFC2253);
}

const char *
cp_time_to_rfc3339(const ASN1_TIME *time, char *buffer, size_t size)
{
	struct tm tm;

	if (!ASN1_TIME_to_tm(time, &tm) ||
	    strftime(buffer, size, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		return "";
	return buffer;
}

char *
cp_name_common_name(const X509_NAME *name)
{
	int index = -1, last = -1;
	unsigned char *utf8 = NULL;
	char *text = NULL;
	int len;

	while ((index = X509_NAME_get_index_by_NID(name, NID_commonName,
						   index)) >= 0)
		last = index;
	if (last < 0)
		return strdup("");
	len = ASN1_STRING_to_UTF8(
		&utf8,
		X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, last)));
	if (len >= 0 && cp_utf8_printable((char *)utf8, (size_t)len))
		text = strndup((char *)utf8, (size_t)len);
	OPENSSL_free(utf8);
	return text ? text : strdup("");
}

/* The serial number in uppercase hex without leading zeros, as OpenSSL
 * prints it. */
static char *
serial_hex(X509 *certificate)
{
	BIGNUM *bn =
		ASN1_INTEGER_to_BN(X509_get0_serialNumber(certificate), NULL);
	char *hex = bn ? BN_bn2hex(bn) : NULL;
	char *text = NULL;

	if (hex) {
		char *digits = hex + (hex[0] == '-');

		while (digits[0] == '0' && digits[1])
			memmove(digits, digits + 1, strlen(digits));
		text = strdup(hex);
	}
	OPENSSL_free(hex);
	BN_free(bn);
	return text;
}

static char *
fingerprint(X509 *certificate)
{
	unsigned char digest[EVP_MAX_MD_SIZE];
	unsigned int len = 0;
	char *text;

	if (!X509_digest(certificate, EVP_sha256(), digest, &len) || len == 0)
		return NULL;
	text = malloc(3 * len);
	if (!text)
		return NULL;
	for (unsigned i = 0; i < len; i++)
		snprintf(text + 3 * i, 4, i + 1 < len ? "%02X:" : "%02X",
			 digest[i]);
	return text;
}

/* Sets key to value (a new reference), failing when value is NULL. */
static int
set_new(json_t *object, const char *key, json_t *value)
{
	if (!value)
		return -1;
	return json_object_set_new(object, key, value);
}

/* Sets key to a string that this function frees. */
static int
set_string_free(json_t *object, const char *key, char *text)
{
	int r = text ? set_new(object, key, json_string(text)) : -1;

	free(text);
	return r;
}

static json_t *
certificate_base64(X509 *certificate)
{
	unsigned char *der = NULL;
	int len = i2d_X509(certificate, &der);
	char *text = len > 0 ? cp_base64_encode(der, (size_t)len) : NULL;
	json_t *value = text ? json_string(text) : NULL;

	OPENSSL_free(der);
	free(text);
	return value;
}

static json_t *
chain_json(const struct cp_identity *identity)
{
	STACK_OF(X509) *chain = cp_identity_chain(identity);
	json_t *array = json_array();
	int failed = json_array_append_new(array,
					   certificate_base64(identity->leaf));

	for (int i = 0; i < sk_X509_num(chain); i++)
		failed |= json_array_append_new(
			array, certificate_base64(sk_X509_value(chain, i)));
	if (failed) {
		json_decref(array);
		return NULL;
	}
	return array;
}

json_t *
cp_identity_chain_json(struct cp_identity *identity)
{
	if (!identity->chain_json)
		identity->chain_json = chain_json(identity);
	return identity->chain_json;
}

static json_t *
chain_subjects_json(const struct cp_identity *identity)
{
	STACK_OF(X509) *chain = cp_identity_chain(identity);
	json_t *array = json_array();
	int failed = 0;

	for (int i = -1; i < sk_X509_num(chain); i++) {
		X509 *certificate =
			i < 0 ? identity->leaf : sk_X509_value(chain, i);
		char *subject =
			cp_name_to_string(X509_get_subject_name(certificate));

		failed |= json_array_append_new(
			array, subject ? json_string(subject) : NULL);
		free(subject);
	}
	if (failed) {
		json_decref(array);
		return NULL;
	}
	return array;
}

static const struct {
	uint32_t bit;
	const char *name;
} key_usage_names[] = {
	{KU_DIGITAL_SIGNATURE, "digitalSignature"},
	{KU_NON_REPUDIATION, "nonRepudiation"},
	{KU_KEY_ENCIPHERMENT, "keyEncipherment"},
	{KU_DATA_ENCIPHERMENT, "dataEncipherment"},
	{KU_KEY_AGREEMENT, "keyAgreement"},
	{KU_KEY_CERT_SIGN, "keyCertSign"},
	{KU_CRL_SIGN, "cRLSign"},
	{KU_ENCIPHER_ONLY, "encipherOnly"},
	{KU_DECIPHER_ONLY, "decipherOnly"},
};

static json_t *
key_usage_json(X509 *leaf)
{
	json_t *array = json_array();
	uint32_t usage = X509_get_key_usage(leaf);
	int failed = 0;

	if (!(X509_get_extension_flags(leaf) & EXFLAG_KUSAGE))
		return array;
	for (size_t i = 0;
	     i < sizeof(key_usage_names) / sizeof(key_usage_names[0]); i++)
		if (usage & key_usage_names[i].bit)
			failed |= json_array_append_new(
				array, json_string(key_usage_names[i].name));
	if (failed) {
		json_decref(array);
		return NULL;
	}
	return array;
}

/* Extended key usages by OpenSSL's short names ("clientAuth"), or as
 * dotted OIDs for purposes OpenSSL does not name. */
static json_t *
extended_key_usage_json(X509 *leaf)
{
	EXTENDED_KEY_USAGE *usage =
		X509_get_ext_d2i(leaf, NID_ext_key_usage, NULL, NULL);
	json_t *array = json_array();
	int failed = 0;

	for (int i = 0; i < sk_ASN1_OBJECT_num(usage); i++) {
		ASN1_OBJECT *purpose = sk_ASN1_OBJECT_value(usage, i);
		int nid = OBJ_obj2nid(purpose);
		char oid[128];

		if (nid == NID_undef) {
			OBJ_obj2txt(oid, sizeof(oid), purpose, 1);
			failed |=
				json_array_append_new(array, json_string(oid));
		} else {
			failed |= json_array_append_new(
				array, json_string(OBJ_nid2sn(nid)));
		}
	}
	sk_ASN1_OBJECT_pop_free(usage, ASN1_OBJECT_free);
	if (failed) {
		json_decref(array);
		return NULL;
	}
	return array;
}

/* The maximum number of email addresses that a candidate lists. The picker
 * only shows them, and a certificate may carry tens of thousands. */
#define CANDIDATE_EMAILS_MAX 64

/* Appends the address in email to array, skipping what X509_get1_email
 * skips: a type other than IA5String, an empty address, one that contains a
 * NUL, and one already listed. An address with a control character is
 * skipped too. Returns 0, or -1 when out of memory. */
static int
append_email(json_t *array, const ASN1_STRING *email)
{
	const char *data = (const char *)ASN1_STRING_get0_data(email);
	size_t len = (size_t)ASN1_STRING_length(email);
	json_t *value;
	size_t i;

	if (ASN1_STRING_type(email) != V_ASN1_IA5STRING || len == 0 ||
	    memchr(data, '\0', len) || !cp_utf8_printable(data, len))
		return 0;
	json_array_foreach(array, i, value)
	{
		if (json_string_length(value) == len &&
		    memcmp(json_string_value(value), data, len) == 0)
			return 0;
	}
	return json_array_append_new(array, json_stringn(data, len));
}

/* Email addresses from the subject and the subjectAltName extension, the
 * first CANDIDATE_EMAILS_MAX different ones. X509_get1_email is not used,
 * because in OpenSSL 3.0 it sorts its list again for each address that it
 * adds. For 20,000 addresses that took 6 seconds of certpickd's event
 * loop, and a 1 MiB identity file fits 60,000. */
static json_t *
emails_json(X509 *leaf)
{
	const X509_NAME *subject = X509_get_subject_name(leaf);
	GENERAL_NAMES *names =
		X509_get_ext_d2i(leaf, NID_subject_alt_name, NULL, NULL);
	json_t *array = json_array();
	int failed = !array, i;

	for (i = X509_NAME_get_index_by_NID(subject, NID_pkcs9_emailAddress,
					    -1);
	     !failed && i >= 0 && json_array_size(array) < CANDIDATE_EMAILS_MAX;
	     i = X509_NAME_get_index_by_NID(subject, NID_pkcs9_emailAddress,
					    i)) {
		const X509_NAME_ENTRY *entry = X509_NAME_get_entry(subject, i);

		failed = append_email(array, X509_NAME_ENTRY_get_data(entry));
	}
	for (i = 0; !failed && i < sk_GENERAL_NAME_num(names) &&
		    json_array_size(array) < CANDIDATE_EMAILS_MAX;
	     i++) {
		const GENERAL_NAME *name = sk_GENERAL_NAME_value(names, i);

		if (name->type == GEN_EMAIL)
			failed = append_email(array, name->d.rfc822Name);
	}
	GENERAL_NAMES_free(names);
	if (failed) {
		json_decref(array);
		return NULL;
	}
	return array;
}

static int
set_common(json_t *object, const struct cp_identity *identity)
{
	X509 *leaf = identity->leaf;
	char not_before[32], not_after[32];
	const char *curve = NULL;
	int r = 0;

	if (identity->curve_nid != NID_undef) {
		curve = EC_curve_nid2nist(identity->curve_nid);
		if (!curve)
			curve = OBJ_nid2sn(identity->curve_nid);
	}

	r |= set_new(object, "id", json_string(identity->id));
	r |= set_new(object, "label", json_string(identity->label));
	r |= set_string_free(object, "subject",
			     cp_name_to_string(X509_get_subject_name(leaf)));
	r |= set_string_free(object, "issuer",
			     cp_name_to_string(X509_get_issuer_name(leaf)));
	r |= set_string_free(object, "serial", serial_hex(leaf));
	r |= set_new(object, "not_before",
		     json_string(cp_time_to_rfc3339(X509_get0_notBefore(leaf),
						    not_before,
						    sizeof(not_before))));
	r |= set_new(
		object, "not_after",
		json_string(cp_time_to_rfc3339(X509_get0_notAfter(leaf),
					       not_after, sizeof(not_after))));
	r |= set_new(object, "key_type", json_string(identity->key_type));
	r |= set_new(object, "key_bits", json_integer(identity->key_bits));
	if (curve)
		r |= set_new(object, "curve", json_string(curve));
	r |= set_new(object, "source_kind", json_string("file"));
	r |= set_new(object, "source", json_string(identity->source));
	r |= set_new(object, "locked",
		     json_boolean(cp_identity_locked(identity)));
	return r;
}

static int
set_candidate(json_t *object, const struct cp_identity *identity)
{
	X509 *leaf = identity->leaf;
	int r = 0;

	r |= set_string_free(object, "common_name",
			     cp_name_common_name(X509_get_subject_name(leaf)));
	r |= set_string_free(object, "issuer_common_name",
			     cp_name_common_name(X509_get_issuer_name(leaf)));
	r |= set_string_free(object, "sha256_fingerprint", fingerprint(leaf));
	r |= set_new(object, "key_usage", key_usage_json(leaf));
	r |= set_new(object, "extended_key_usage",
		     extended_key_usage_json(leaf));
	r |= set_new(object, "emails", emails_json(leaf));
	r |= set_new(object, "chain_subjects", chain_subjects_json(identity));
	return r;
}

json_t *
cp_identity_to_json(const struct cp_identity *identity, unsigned flags)
{
	json_t *object = json_object();
	int r;

	if (!object)
		return NULL;
	r = set_common(object, identity);
	if (flags & CP_JSON_IDENTITY)
		r |= set_new(object, "chain", chain_json(identity));
	if (flags & CP_JSON_CANDIDATE)
		r |= set_candidate(object, identity);
	if (r) {
		json_decref(object);
		return NULL;
	}
	return object;
}
