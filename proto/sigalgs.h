/* TLS signature schemes by their IANA names, shared by the matcher (which
 * keys fit a server's list), the client (which names it sends) and the
 * signer (which padding and digest a Sign call means). */
#pragma once

#include <stdbool.h>
#include <stdint.h>

enum cp_sig_family {
	CP_SIG_RSA_PKCS1,
	CP_SIG_RSA_PSS_RSAE, /* PSS with an rsaEncryption key */
	CP_SIG_RSA_PSS_PSS,  /* PSS with an RSASSA-PSS key */
	CP_SIG_ECDSA,
	CP_SIG_ED25519,
	CP_SIG_ED448,
};

struct cp_sigalg {
	uint16_t code;	  /* the TLS SignatureScheme code point */
	const char *name; /* the IANA name, such as "rsa_pss_rsae_sha256" */
	enum cp_sig_family family;
	int digest_nid; /* NID_undef for the EdDSA schemes */
	int curve_nid;	/* the curve TLS 1.3 binds an ECDSA scheme to */
};

/* Look up a scheme; both return NULL for schemes certpick does not know. */
const struct cp_sigalg *cp_sigalg_by_name(const char *name);
const struct cp_sigalg *cp_sigalg_by_code(uint16_t code);

/* Returns true when a key can sign with the scheme. key_type is "RSA",
 * "RSA-PSS", "EC", "ED25519" or "ED448"; curve_nid matters for EC keys.
 * With tls13, PKCS #1 v1.5 is excluded and ECDSA schemes bind the curve,
 * as RFC 8446 section 4.2.3 requires for CertificateVerify. */
bool cp_sigalg_fits_key(const struct cp_sigalg *alg, const char *key_type,
			int curve_nid, bool tls13);
