/* The certpick subcommands that work on the identity store directly:
 * import, identities, remove and match. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/pem.h>

#include "cli.h"
#include "log.h"
#include "matcher.h"
#include "password.h"
#include "store-private.h"

#define OPTION_STORE_HELP                                                        \
	"  --store DIR          the identity store (default: $CERTPICK_STORE,\n" \
	"                       else $XDG_DATA_HOME/certpick/identities)\n"

/* The shortest id prefix that remove accepts. */
#define ID_PREFIX_MIN 8

/* Opens the store in dir, else the default one. cp_store_open creates a
 * missing directory, which import needs. The commands that only read
 * (create false) reject a --store directory that does not exist, because
 * it is more likely a mistyped path than an empty store. */
static int
open_store(const char *dir, bool create, struct cp_store **store)
{
	char err[1024];
	struct stat st;

	if (dir && !create && stat(dir, &st) < 0 && errno == ENOENT) {
		log_error("the store %s does not exist; check --store, or add "
			  "an identity to it with 'certpick import --store "
			  "%s FILE'",
			  dir, dir);
		return -1;
	}
	if (!dir)
		dir = cp_store_default_dir();
	if (cp_store_open(dir, store, err, sizeof(err)) < 0) {
		log_error("%s", err);
		return -1;
	}
	return 0;
}

static void
import_usage(FILE *out)
{
	fprintf(out,
		"usage: certpick import FILE [--key KEYFILE] "
		"[--password-file FILE] [--label TEXT]\n\n"
		"Imports an identity from a PEM bundle (certificate, key and "
		"chain in any\norder), a certificate with a separate key file, "
		"or a PKCS #12 file.\n\n"
		"  --key KEYFILE        the private key, when FILE lacks it\n"
		"  --password-file FILE read the password from the first "
		"line of FILE\n"
		"                       (default: ask on the terminal)\n"
		"  --label TEXT         the name shown in the picker\n" OPTION_STORE_HELP);
}

/* Prints that file was in the store already. A --label that differs from
 * the stored one is not applied, so a warning explains how to change it. */
static void
print_already_imported(const struct cp_store *store, const char *file,
		       const char *id, const char *label)
{
	const char *stored = cp_identity_label(cp_store_find(store, id));

	printf("%s is already in the store as %s; nothing changed\n", file, id);
	if (label && strcmp(label, stored) != 0)
		log_warning("the label stays \"%s\", not \"%s\"; to change "
			    "it, run 'certpick remove %.16s' and import the "
			    "file again with --label",
			    stored, label, id);
}

/* Prints the new identity, and warns when no certificate request could
 * accept it, such as an expired certificate or one meant for servers:
 * the picker would always list it as excluded. */
static void
print_imported(const struct cp_store *store, const char *id)
{
	const struct cp_identity *identity = cp_store_find(store, id);
	struct cp_match_request any = {0};
	unsigned reasons = cp_match_identity(store, &any, identity);
	/* Room for every reason code, the longest of which has 33 bytes. */
	char codes[CP_REASON_COUNT * 40] = "";

	printf("imported \"%s\" as %s\n", cp_identity_label(identity), id);
	if (!reasons)
		return;
	for (int i = 0; i < CP_REASON_COUNT; i++) {
		if (!(reasons & (1u << i)))
			continue;
		if (codes[0])
			strcat(codes, ", ");
		strcat(codes, cp_reason_code(1u << i));
	}
	log_warning("\"%s\" cannot be used for TLS client authentication "
		    "now (%s); 'certpick match' lists the reasons",
		    cp_identity_label(identity), codes);
}

int
cmd_import(int argc, char **argv)
{
	static const struct option options[] = {
		{"key", required_argument, NULL, 'k'},
		{"password-file", required_argument, NULL, 'p'},
		{"label", required_argument, NULL, 'l'},
		{"store", required_argument, NULL, 's'},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	struct cp_password_source passwords = {0};
	struct cp_import_options import = {
		.ask_password = cp_password_ask,
		.ask_password_arg = &passwords,
	};
	const char *dir = NULL;
	char id[CP_IDENTITY_ID_SIZE], err[1024];
	struct cp_store *store;
	bool already;
	int c;

	while ((c = getopt_long(argc, argv, "h", options, NULL)) != -1) {
		switch (c) {
		case 'k':
			import.key_file = optarg;
			break;
		case 'p':
			passwords.file = optarg;
			break;
		case 'l':
			import.label = optarg;
			break;
		case 's':
			dir = optarg;
			break;
		case 'h':
			import_usage(stdout);
			return CP_EXIT_OK;
		default:
			import_usage(stderr);
			return CP_EXIT_USAGE;
		}
	}
	if (argc - optind != 1) {
		log_error(argc == optind ? "the FILE to import is missing"
					 : "import takes one FILE");
		import_usage(stderr);
		return CP_EXIT_USAGE;
	}
	if (open_store(dir, true, &store) < 0)
		return CP_EXIT_FAILURE;

	if (cp_store_import(store, argv[optind], &import, id, &already, err,
			    sizeof(err)) < 0) {
		log_error("import failed: %s", err);
		if (passwords.no_terminal)
			log_error("there is no terminal to ask for the "
				  "password on; give it with --password-file "
				  "FILE");
		cp_store_free(store);
		return CP_EXIT_FAILURE;
	}
	if (already)
		print_already_imported(store, argv[optind], id, import.label);
	else
		print_imported(store, id);
	cp_store_free(store);
	return CP_EXIT_OK;
}

static void
print_identity(const struct cp_identity *identity)
{
	X509 *leaf = cp_identity_leaf(identity);
	char *subject = cp_name_to_string(X509_get_subject_name(leaf));
	char *issuer = cp_name_to_string(X509_get_issuer_name(leaf));
	char not_before[32], not_after[32];
	int curve = cp_identity_curve(identity);
	const char *curve_name = "";

	if (curve != NID_undef) {
		curve_name = EC_curve_nid2nist(curve);
		if (!curve_name)
			curve_name = OBJ_nid2sn(curve);
	}

	printf("%s\n", cp_identity_label(identity));
	printf("  id:       %s\n", cp_identity_id(identity));
	printf("  subject:  %s\n", subject ? subject : "?");
	printf("  issuer:   %s\n", issuer ? issuer : "?");
	printf("  valid:    %s to %s\n",
	       cp_time_to_rfc3339(X509_get0_notBefore(leaf), not_before,
				  sizeof(not_before)),
	       cp_time_to_rfc3339(X509_get0_notAfter(leaf), not_after,
				  sizeof(not_after)));
	printf("  key:      %s%s%s, %d bits%s%s\n",
	       cp_identity_key_type(identity), curve != NID_undef ? " " : "",
	       curve_name, cp_identity_key_bits(identity),
	       cp_identity_locked(identity) ? ", encrypted" : "",
	       cp_identity_key_available(identity) ? "" : ", unavailable");
	printf("  source:   %s\n", cp_identity_source(identity));
	free(subject);
	free(issuer);
}

static int
print_json(json_t *value)
{
	char *text = value ? json_dumps(value, JSON_INDENT(2)) : NULL;

	json_decref(value);
	if (!text) {
		log_error("out of memory");
		return -1;
	}
	printf("%s\n", text);
	free(text);
	return 0;
}

static int
list_json(const struct cp_store *store)
{
	json_t *array = json_array();

	for (size_t i = 0; array && i < cp_store_count(store); i++)
		if (json_array_append_new(
			    array, cp_identity_to_json(cp_store_get(store, i),
						       CP_JSON_IDENTITY)) < 0) {
			json_decref(array);
			array = NULL;
		}
	return print_json(array);
}

static void
identities_usage(FILE *out)
{
	fprintf(out, "usage: certpick identities [--json]\n\n"
		     "Lists the identities in the store.\n\n"
		     "  --json               print a JSON array of "
		     "org.certpick.Agent Identity\n"
		     "                       objects\n" OPTION_STORE_HELP);
}

int
cmd_identities(int argc, char **argv)
{
	static const struct option options[] = {
		{"json", no_argument, NULL, 'j'},
		{"store", required_argument, NULL, 's'},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	const char *dir = NULL;
	struct cp_store *store;
	bool json = false;
	int c, r = 0;

	while ((c = getopt_long(argc, argv, "h", options, NULL)) != -1) {
		switch (c) {
		case 'j':
			json = true;
			break;
		case 's':
			dir = optarg;
			break;
		case 'h':
			identities_usage(stdout);
			return CP_EXIT_OK;
		default:
			identities_usage(stderr);
			return CP_EXIT_USAGE;
		}
	}
	if (optind != argc) {
		identities_usage(stderr);
		return CP_EXIT_USAGE;
	}
	if (open_store(dir, false, &store) < 0)
		return CP_EXIT_FAILURE;

	if (json) {
		r = list_json(store);
	} else if (cp_store_count(store) == 0) {
		printf("No identities in the store %s. Add one with: certpick "
		       "import FILE\n",
		       dir ? dir : cp_store_default_dir());
	} else {
		for (size_t i = 0; i < cp_store_count(store); i++) {
			if (i > 0)
				printf("\n");
			print_identity(cp_store_get(store, i));
		}
	}
	cp_store_free(store);
	return r < 0 ? CP_EXIT_FAILURE : CP_EXIT_OK;
}

/* Finds the identity whose id is id or starts with it. */
static struct cp_identity *
find_by_prefix(const struct cp_store *store, const char *id)
{
	struct cp_identity *found = NULL;
	size_t len = strlen(id);

	if (len < ID_PREFIX_MIN) {
		log_error("the id '%.80s' is too short; give at least %d of "
			  "its hex digits",
			  id, ID_PREFIX_MIN);
		return NULL;
	}
	for (size_t i = 0; i < cp_store_count(store); i++) {
		struct cp_identity *identity = cp_store_get(store, i);

		if (strncmp(cp_identity_id(identity), id, len) != 0)
			continue;
		if (found) {
			log_error("the id '%.80s' matches several identities; "
				  "give more of its digits",
				  id);
			return NULL;
		}
		found = identity;
	}
	if (!found)
		log_error("no identity with id '%.80s' in the store; run "
			  "'certpick identities' to list them",
			  id);
	return found;
}

static void
remove_usage(FILE *out)
{
	fprintf(out,
		"usage: certpick remove ID\n\n"
		"Removes an identity from the store. ID is its id, or at least "
		"its first %d\nhex digits.\n\n" OPTION_STORE_HELP,
		ID_PREFIX_MIN);
}

int
cmd_remove(int argc, char **argv)
{
	static const struct option options[] = {
		{"store", required_argument, NULL, 's'},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	const char *dir = NULL;
	struct cp_identity *identity;
	struct cp_store *store;
	char id[CP_IDENTITY_ID_SIZE], err[1024];
	char *label;
	int c;

	while ((c = getopt_long(argc, argv, "h", options, NULL)) != -1) {
		switch (c) {
		case 's':
			dir = optarg;
			break;
		case 'h':
			remove_usage(stdout);
			return CP_EXIT_OK;
		default:
			remove_usage(stderr);
			return CP_EXIT_USAGE;
		}
	}
	if (argc - optind != 1) {
		log_error(argc == optind ? "the ID to remove is missing"
					 : "remove takes one ID");
		remove_usage(stderr);
		return CP_EXIT_USAGE;
	}
	if (open_store(dir, false, &store) < 0)
		return CP_EXIT_FAILURE;

	identity = find_by_prefix(store, argv[optind]);
	if (!identity) {
		cp_store_free(store);
		return CP_EXIT_FAILURE;
	}
	snprintf(id, sizeof(id), "%s", cp_identity_id(identity));
	label = strdup(cp_identity_label(identity));
	if (cp_store_remove(store, id, err, sizeof(err)) < 0) {
		log_error("%s", err);
		free(label);
		cp_store_free(store);
		return CP_EXIT_FAILURE;
	}
	printf("removed \"%s\" (%s)\n", label ? label : "?", id);
	free(label);
	cp_store_free(store);
	return CP_EXIT_OK;
}

/* The options of `certpick match`. */
struct match_options {
	STACK_OF(X509_NAME) *ca_names;
	char **sigalgs;
	size_t n_sigalgs;
	const char *host;
	long port;
	bool tls12;
	bool json;
	const char *dir;
};

static int
add_ca_name(struct match_options *options, const X509_NAME *name)
{
	X509_NAME *copy = X509_NAME_dup(name);

	if (!copy || !sk_X509_NAME_push(options->ca_names, copy)) {
		X509_NAME_free(copy);
		log_error("out of memory");
		return -1;
	}
	return 0;
}

/* Takes the subject of every certificate in a PEM file as a CA name. */
static int
read_ca_file(struct match_options *options, const char *path)
{
	BIO *in = BIO_new_file(path, "r");
	X509 *certificate;
	int n = 0, r = 0;

	if (!in) {
		log_error("cannot open %s: %s", path, cp_openssl_reason());
		return -1;
	}
	while (r == 0 &&
	       (certificate = PEM_read_bio_X509(in, NULL, NULL, NULL))) {
		r = add_ca_name(options, X509_get_subject_name(certificate));
		X509_free(certificate);
		n++;
	}
	ERR_clear_error();
	BIO_free(in);
	if (r == 0 && n == 0) {
		log_error("no PEM certificate in %s; --ca-file takes CA "
			  "certificates, --ca-der a DER-encoded name",
			  path);
		return -1;
	}
	return r;
}

/* Reads a DER-encoded X.509 name, as a server sends it in its certificate
 * request, or else a DER certificate, whose subject is taken. */
static bool
is_pem(const unsigned char *data, long len)
{
	return len >= 10 && memcmp(data, "-----BEGIN", 10) == 0;
}

static int
read_ca_der(struct match_options *options, const char *path)
{
	BIO *in = BIO_new_file(path, "rb");
	unsigned char *data = NULL;
	const unsigned char *p;
	X509_NAME *name = NULL;
	X509 *certificate = NULL;
	long len;
	int r = -1;

	if (!in) {
		log_error("cannot open %s: %s", path, cp_openssl_reason());
		return -1;
	}
	data = malloc(CP_STORE_FILE_MAX);
	len = data ? BIO_read(in, data, CP_STORE_FILE_MAX) : -1;
	BIO_free(in);

	p = data;
	if (len > 0)
		name = d2i_X509_NAME(NULL, &p, len);
	if (name && p == data + len) {
		r = add_ca_name(options, name);
	} else {
		p = data;
		if (len > 0)
			certificate = d2i_X509(NULL, &p, len);
		if (certificate && p == data + len)
			r = add_ca_name(options,
					X509_get_subject_name(certificate));
		else
			log_error("%s is neither a DER-encoded X.509 name nor "
				  "a DER certificate%s",
				  path,
				  is_pem(data, len) ? "; give a PEM file with "
						      "--ca-file"
						    : "");
	}
	ERR_clear_error();
	X509_NAME_free(name);
	X509_free(certificate);
	free(data);
	return r;
}

/* Splits a comma-separated list of signature scheme names. Names that
 * certpick does not know are kept, since the matcher ignores them, but
 * warned about in case of a typing error. */
static int
parse_sigalgs(struct match_options *options, const char *list)
{
	char *copy = strdup(list), *save = NULL;

	if (!copy)
		return -1;
	for (char *name = strtok_r(copy, ", ", &save); name;
	     name = strtok_r(NULL, ", ", &save)) {
		char **grown = realloc(options->sigalgs, (options->n_sigalgs +
							  1) * sizeof(*grown));

		/* On failure, cmd_match frees what was parsed. */
		if (!grown) {
			free(copy);
			return -1;
		}
		options->sigalgs = grown;
		grown[options->n_sigalgs] = strdup(name);
		if (!grown[options->n_sigalgs]) {
			free(copy);
			return -1;
		}
		options->n_sigalgs++;
		if (!cp_sigalg_by_name(name))
			log_warning("unknown signature scheme '%.60s' "
				    "ignored (IANA names such as "
				    "rsa_pss_rsae_sha256, ed25519)",
				    name);
	}
	free(copy);
	if (options->n_sigalgs == 0) {
		log_error("--sigalgs needs at least one signature scheme");
		return -1;
	}
	return 0;
}

static void
match_usage(FILE *out)
{
	fprintf(out,
		"usage: certpick match [--ca-file PEM]... [--ca-der FILE]... "
		"[--host H]\n"
		"                      [--port P] [--sigalgs LIST] "
		"[--tls-version V] [--json]\n\n"
		"Shows which identities a server's certificate request "
		"accepts, and why the\nothers are excluded.\n\n"
		"  --ca-file PEM        CA certificates whose subjects the "
		"server names\n"
		"  --ca-der FILE        one DER-encoded CA name (or DER "
		"certificate)\n"
		"  --host H, --port P   the server, for the heading only\n"
		"  --sigalgs LIST       signature schemes the server accepts, "
		"comma-separated\n"
		"                       IANA names (default: any)\n"
		"  --tls-version V      1.2 or 1.3 (default 1.3): TLS 1.3 has "
		"no PKCS #1 v1.5\n"
		"                       and binds ECDSA schemes to a curve\n"
		"  --json               print a JSON array, one object per "
		"identity\n" OPTION_STORE_HELP
		"\nWithout --ca-file or --ca-der the server names no CA, and "
		"every issuer is\naccepted.\n");
}

static int
parse_match_option(struct match_options *options, int c, const char *value)
{
	const char *version;
	char *end;

	switch (c) {
	case 'c':
		return read_ca_file(options, value);
	case 'd':
		return read_ca_der(options, value);
	case 'H':
		options->host = value;
		return 0;
	case 'P':
		options->port = strtol(value, &end, 10);
		if (*value && !*end && options->port > 0 &&
		    options->port <= 65535)
			return 0;
		log_error("invalid port '%.20s': expected 1 to 65535", value);
		return -1;
	case 'a':
		return parse_sigalgs(options, value);
	case 't':
		/* Also in the form that Select's tls_version and OpenSSL's
		 * SSL_get_version use. */
		version = strncmp(value, "TLSv", 4) == 0 ? value + 4 : value;
		if (strcmp(version, "1.2") != 0 &&
		    strcmp(version, "1.3") != 0) {
			log_error("invalid TLS version '%.20s': expected 1.2 "
				  "or 1.3",
				  value);
			return -1;
		}
		options->tls12 = strcmp(version, "1.2") == 0;
		return 0;
	case 'j':
		options->json = true;
		return 0;
	case 's':
		options->dir = value;
		return 0;
	}
	return -1;
}

static void
print_request(const struct match_options *options, bool names_given)
{
	if (options->host && options->port)
		printf("Server: %s:%ld\n", options->host, options->port);
	else if (options->host)
		printf("Server: %s\n", options->host);
	if (!names_given) {
		printf("CA names: none named, so every issuer is accepted\n");
	} else {
		printf("CA names:\n");
		for (int i = 0; i < sk_X509_NAME_num(options->ca_names); i++) {
			char *name = cp_name_to_string(
				sk_X509_NAME_value(options->ca_names, i));

			printf("  %s\n", name ? name : "?");
			free(name);
		}
	}
	printf("Signature schemes: ");
	if (!options->sigalgs)
		printf("any\n");
	for (size_t i = 0; options->sigalgs && i < options->n_sigalgs; i++)
		printf("%s%s", options->sigalgs[i],
		       i + 1 < options->n_sigalgs ? ", " : " ");
	if (options->sigalgs)
		printf("(TLS %s)\n", options->tls12 ? "1.2" : "1.3");
}

static void
print_verdict(const struct cp_verdict *verdict)
{
	X509 *leaf = cp_identity_leaf(verdict->identity);
	char *subject = cp_name_to_string(X509_get_subject_name(leaf));
	char *issuer = cp_name_to_string(X509_get_issuer_name(leaf));
	char not_after[32];

	printf("\n%s  %s\n", verdict->reasons ? "excluded" : "eligible",
	       cp_identity_label(verdict->identity));
	printf("  id:       %s\n", cp_identity_id(verdict->identity));
	printf("  subject:  %s\n", subject ? subject : "?");
	printf("  issuer:   %s\n", issuer ? issuer : "?");
	printf("  until:    %s\n",
	       cp_time_to_rfc3339(X509_get0_notAfter(leaf), not_after,
				  sizeof(not_after)));
	if (verdict->reasons) {
		printf("  reasons: ");
		for (int i = 0; i < CP_REASON_COUNT; i++)
			if (verdict->reasons & (1u << i))
				printf(" %s", cp_reason_code(1u << i));
		printf("\n");
	}
	free(subject);
	free(issuer);
}

static json_t *
verdicts_json(const struct cp_verdict *verdicts, size_t n, bool names_given)
{
	json_t *array = json_array();

	for (size_t i = 0; array && i < n; i++) {
		json_t *object = cp_identity_to_json(verdicts[i].identity, 0);

		if (!object || cp_verdict_add_json(&verdicts[i], object) < 0 ||
		    json_object_set_new(object, "ca_names_given",
					json_boolean(names_given)) < 0 ||
		    json_array_append_new(array, object) < 0) {
			json_decref(array);
			array = NULL;
		}
	}
	return array;
}

static int
run_match(struct match_options *options)
{
	struct cp_match_request request = {
		.ca_names = options->ca_names,
		.sigalgs = (const char *const *)options->sigalgs,
		.n_sigalgs = options->n_sigalgs,
		.tls13 = !options->tls12,
	};
	bool names_given = cp_match_ca_names_given(&request);
	struct cp_verdict *verdicts = NULL;
	struct cp_store *store;
	ssize_t n;
	int r = 0;

	if (open_store(options->dir, false, &store) < 0)
		return -1;
	n = cp_match(store, &request, &verdicts);
	if (n < 0) {
		log_error("out of memory");
		r = -1;
	} else if (options->json) {
		r = print_json(verdicts_json(verdicts, (size_t)n, names_given));
	} else {
		print_request(options, names_given);
		if (n == 0)
			printf("\nNo identities in the store.\n");
		for (ssize_t i = 0; i < n; i++)
			print_verdict(&verdicts[i]);
	}
	free(verdicts);
	cp_store_free(store);
	return r;
}

int
cmd_match(int argc, char **argv)
{
	static const struct option long_options[] = {
		{"ca-file", required_argument, NULL, 'c'},
		{"ca-der", required_argument, NULL, 'd'},
		{"host", required_argument, NULL, 'H'},
		{"port", required_argument, NULL, 'P'},
		{"sigalgs", required_argument, NULL, 'a'},
		{"tls-version", required_argument, NULL, 't'},
		{"json", no_argument, NULL, 'j'},
		{"store", required_argument, NULL, 's'},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	struct match_options options = {.ca_names = sk_X509_NAME_new_null()};
	int c, r = CP_EXIT_OK;

	if (!options.ca_names)
		return CP_EXIT_FAILURE;
	while (r == CP_EXIT_OK &&
	       (c = getopt_long(argc, argv, "h", long_options, NULL)) != -1) {
		if (c == 'h') {
			match_usage(stdout);
			goto out;
		}
		if (c == '?') {
			match_usage(stderr);
			r = CP_EXIT_USAGE;
		} else if (parse_match_option(&options, c, optarg) < 0) {
			/* A CA file that cannot be read or contains no CA
			 * name fails as a file does for import. */
			r = c == 'c' || c == 'd' ? CP_EXIT_FAILURE
						 : CP_EXIT_USAGE;
		}
	}
	if (r == CP_EXIT_OK && optind != argc) {
		match_usage(stderr);
		r = CP_EXIT_USAGE;
	}
	if (r == CP_EXIT_OK && run_match(&options) < 0)
		r = CP_EXIT_FAILURE;
out:
	sk_X509_NAME_pop_free(options.ca_names, X509_NAME_free);
	for (size_t i = 0; i < options.n_sigalgs; i++)
		free(options.sigalgs[i]);
	free(options.sigalgs);
	return r;
}
