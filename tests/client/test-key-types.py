#!/usr/bin/python3
"""Every key type signs through certpickd in TLS 1.2 and 1.3: RSA with
PKCS #1 v1.5 and PSS, ECDSA P-256, P-384 and P-521, Ed25519 and Ed448,
verified by openssl s_server and by gnutls-serv. certpickd's debug log
names the scheme of each signature."""

import os
import subprocess

from clienttest import check, check_in, check_status, pki, run

# (identity, TLS version, schemes the server accepts or None, the scheme
# the signature must use)
CASES = [
    ("rsa2048", "1.2", "RSA+SHA256", "rsa_pkcs1_sha256"),
    ("rsa2048", "1.2", "RSA+SHA384", "rsa_pkcs1_sha384"),
    ("rsa2048", "1.2", None, "rsa_pss_rsae_sha256"),
    ("rsa2048", "1.3", None, "rsa_pss_rsae_sha256"),
    ("rsa3072", "1.3", "rsa_pss_rsae_sha512", "rsa_pss_rsae_sha512"),
    ("p256", "1.2", None, "ecdsa_secp256r1_sha256"),
    ("p256", "1.3", None, "ecdsa_secp256r1_sha256"),
    ("p384", "1.2", "ECDSA+SHA384", "ecdsa_secp384r1_sha384"),
    ("p384", "1.3", None, "ecdsa_secp384r1_sha384"),
    ("ed25519", "1.2", None, "ed25519"),
    ("ed25519", "1.3", None, "ed25519"),
    ("ed448", "1.2", None, "ed448"),
    ("ed448", "1.3", None, "ed448"),
    ("p521", "1.2", "ECDSA+SHA512", "ecdsa_secp521r1_sha512"),
    ("p521", "1.3", None, "ecdsa_secp521r1_sha512"),
]

LABELS = {
    "rsa2048": "Alice RSA-2048",
    "rsa3072": "Alice RSA-3072",
    "p256": "Alice P-256",
    "p384": "Alice P-384",
    "ed25519": "Alice Ed25519",
    "ed448": "Alice Ed448",
    "p521": "Alice P-521",
}


def make_identity(workdir, name, label, serial, *genpkey):
    """A client certificate from the test root for a key type that the
    shared PKI lacks. Returns its PEM bundle."""
    base = os.path.join(workdir, name)
    with open(base + ".cnf", "w") as f:
        f.write("[client]\nbasicConstraints = critical, CA:false\n"
                "keyUsage = critical, digitalSignature\n"
                "extendedKeyUsage = clientAuth\n")
    for command in (
            ["genpkey", *genpkey, "-out", base + ".key"],
            ["req", "-new", "-key", base + ".key", "-subj",
             "/O=certpick test/CN=" + label, "-out", base + ".csr"],
            ["x509", "-req", "-in", base + ".csr", "-CA",
             pki("ca", "root.pem"), "-CAkey", pki("ca", "root.key"),
             "-set_serial", str(serial), "-days", "2",
             "-extfile", base + ".cnf", "-extensions", "client", "-out",
             base + ".pem"]):
        subprocess.run(["openssl", *command], check=True,
                       capture_output=True)
    with open(base + ".bundle", "w") as out:
        for part in (".pem", ".key"):
            with open(base + part) as f:
                out.write(f.read())
    return base + ".bundle"


EXTRA_KEYS = {
    "ed448": ("-algorithm", "ED448"),
    "p521": ("-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-521"),
}


def signatures(ctx):
    return [line.rsplit(" using ", 1)[1] for line in ctx.daemon.log()
            .splitlines() if "signed with identity" in line]


def test(ctx):
    ctx.import_identities(*[name for name in LABELS
                            if name not in EXTRA_KEYS])
    for serial, (name, genpkey) in enumerate(EXTRA_KEYS.items(), 9000):
        ctx.home.import_identity(name, make_identity(
            ctx.workdir, name, LABELS[name], serial, *genpkey))
    gnutls_cases = [("rsa2048", "NORMAL:-VERS-ALL:+VERS-TLS1.2"),
                    ("ed25519", "NORMAL:-VERS-ALL:+VERS-TLS1.3"),
                    ("p384", "NORMAL:-VERS-ALL:+VERS-TLS1.3")]
    actions = [{"choose": "label:" + LABELS[name]} for name, *_ in CASES]
    actions += [{"choose": "label:" + LABELS[name]}
                for name, _ in gnutls_cases]
    ctx.start_daemon({"actions": actions})

    for count, (name, version, accepted, scheme) in enumerate(CASES, 1):
        scenario = f"{name} TLS {version} {accepted or 'any scheme'}"
        extra = ("-client_sigalgs", accepted) if accepted else ()
        server = ctx.s_server(version=version, extra=extra)
        result = ctx.connect(f"--tls{version}",
                             f"https://127.0.0.1:{server.port}/")
        server.stop()
        check_status(result, 0, scenario)
        check_in(f"CN=Alice {LABELS[name][6:]}", result.stdout, scenario)
        done = signatures(ctx)
        check(len(done) == count, f"{scenario}: expected {count} signatures "
              f"in the certpickd log, found {done}")
        check(done[-1] == scheme, f"{scenario}: signed with {done[-1]}, "
              f"expected {scheme}")

    for name, priority in gnutls_cases:
        scenario = f"gnutls-serv {name} {priority}"
        server = ctx.gnutls_serv(priority=priority)
        result = ctx.connect(f"https://127.0.0.1:{server.port}/")
        server.stop()
        check_status(result, 0, scenario)
        check_in(f"Subject: CN=Alice {LABELS[name][6:]}", result.stdout,
                 scenario)


run(test)
