/* The table of TLS signature schemes that certpick can sign with. */
#include "sigalgs.h"

#include <string.h>

#include <openssl/obj_mac.h>

/* Code points from the IANA TLS SignatureScheme registry (RFC 8446). The
 * SHA-224 schemes are TLS 1.2 only; their names follow OpenSSL. */
static const struct cp_sigalg sigalgs[] = {
	{0x0201, "rsa_pkcs1_sha1", CP_SIG_RSA_PKCS1, NID_sha1, NID_undef},
	{0x0301, "rsa_pkcs1_sha224", CP_SIG_RSA_PKCS1, NID_sha224, NID_undef},
	{0x0401, "rsa_pkcs1_sha256", CP_SIG_RSA_PKCS1, NID_sha256, NID_undef},
	{0x0501, "rsa_pkcs1_sha384", CP_SIG_RSA_PKCS1, NID_sha384, NID_undef},
	{0x0601, "rsa_pkcs1_sha512", CP_SIG_RSA_PKCS1, NID_sha512, NID_undef},
	{0x0203, "ecdsa_sha1", CP_SIG_ECDSA, NID_sha1, NID_undef},
	{0x0303, "ecdsa_sha224", CP_SIG_ECDSA, NID_sha224, NID_undef},
	{0x0403, "ecdsa_secp256r1_sha256", CP_SIG_ECDSA, NID_sha256,
	 NID_X9_62_prime256v1},
	{0x0503, "ecdsa_secp384r1_sha384", CP_SIG_ECDSA, NID_sha384,
	 NID_secp384r1},
	{0x0603, "ecdsa_secp521r1_sha512", CP_SIG_ECDSA, NID_sha512,
	 NID_secp521r1},
	{0x0804, "rsa_pss_rsae_sha256", CP_SIG_RSA_PSS_RSAE, NID_sha256,
	 NID_undef},
	{0x0805, "rsa_pss_rsae_sha384", CP_SIG_RSA_PSS_RSAE, NID_sha384,
	 NID_undef},
	{0x0806, "rsa_pss_rsae_sha512", CP_SIG_RSA_PSS_RSAE, NID_sha512,
	 NID_undef},
	{0x0807, "ed25519", CP_SIG_ED25519, NID_undef, NID_undef},
	{0x0808, "ed448", CP_SIG_ED448, NID_undef, NID_undef},
	{0x0809, "rsa_pss_pss_sha256", CP_SIG_RSA_PSS_PSS, NID_sha256,
	 NID_undef},
	{0x080a, "rsa_pss_pss_sha384", CP_SIG_RSA_PSS_PSS, NID_sha384,
	 NID_undef},
	{0x080b, "rsa_pss_pss_sha512", CP_SIG_RSA_PSS_PSS, NID_sha512,
	 NID_undef},
};

#define N_SIGALGS (sizeof(sigalgs) / sizeof(sigalgs[0]))

const struct cp_sigalg *
cp_sigalg_by_name(const char *name)
{
	for (size_t i = 0; i < N_SIGALGS; i++)
		if (strcmp(sigalgs[i].name, name) == 0)
			return &sigalgs[i];
	return NULL;
}

const struct cp_sigalg *
cp_sigalg_by_code(uint16_t code)
{
	for (size_t i = 0; i < N_SIGALGS; i++)
		if (sigalgs[i].code == code)
			return &sigalgs[i];
	return NULL;
}

bool
cp_sigalg_fits_key(const struct cp_sigalg *alg, const char *key_type,
		   int curve_nid, bool tls13)
{
	switch (alg->family) {
	case CP_SIG_RSA_PKCS1:
		return !tls13 && strcmp(key_type, "RSA") == 0;
	case CP_SIG_RSA_PSS_RSAE:
		return strcmp(key_type, "RSA") == 0;
	case CP_SIG_RSA_PSS_PSS:
		return strcmp(key_type, "RSA-PSS") == 0;
	case CP_SIG_ECDSA:
		if (strcmp(key_type, "EC") != 0)
			return false;
		if (!tls13)
			return true;
		return alg->curve_nid != NID_undef &&
		       alg->curve_nid == curve_nid;
	case CP_SIG_ED25519:
		return strcmp(key_type, "ED25519") == 0;
	case CP_SIG_ED448:
		return strcmp(key_type, "ED448") == 0;
	}
	return false;
}
