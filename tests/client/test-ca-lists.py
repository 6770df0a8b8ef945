#!/usr/bin/python3
"""The server's CA names reach certpickd as sent: no list (TLS 1.3
without the certificate_authorities extension), an empty list (TLS 1.2
with no names), and a list of 200 names. The picker's view shows which:
with names, an identity from another CA is excluded."""

import os
import subprocess

from clienttest import check, check_equal, check_status, pki, run


def make_ca_list(path, count):
    """count CA certificates: count - 1 unrelated ones, then the root."""
    key = path + ".key"
    subprocess.run(["openssl", "genpkey", "-algorithm", "EC", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-out", key], check=True,
                   capture_output=True)
    with open(path, "wb") as out:
        for i in range(count - 1):
            out.write(subprocess.run(
                ["openssl", "req", "-x509", "-new", "-key", key, "-days",
                 "2", "-subj", f"/O=Unrelated Issuers/CN=Unrelated CA {i}"],
                check=True, capture_output=True).stdout)
        with open(pki("ca", "root.pem"), "rb") as root:
            out.write(root.read())


def verdicts(choose):
    return {c["label"]: (c["eligible"], c["reasons"])
            for c in choose["parameters"]["candidates"]}


def test(ctx):
    ctx.import_identities("p384", "other-issuer")
    ctx.start_daemon({"default": {"choose": "label:Alice P-384"}})
    long_list = os.path.join(ctx.workdir, "ca-list.pem")
    make_ca_list(long_list, 200)

    cases = [
        ("no list", "1.3", "", False),
        ("empty list", "1.2", "", False),
        ("200 names", "1.2", long_list, True),
        ("200 names", "1.3", long_list, True),
    ]
    for count, (scenario, version, ca_list, given) in enumerate(cases, 1):
        scenario = f"{scenario}, TLS {version}"
        server = ctx.s_server(version=version, ca_list=ca_list)
        result = ctx.connect(f"--tls{version}",
                             f"https://127.0.0.1:{server.port}/")
        server.stop()
        check_status(result, 0, scenario)
        chooses = ctx.picker.chooses()
        check_equal(len(chooses), count, f"{scenario}: Choose calls")
        choose = chooses[-1]
        check_equal(choose["parameters"]["ca_names_given"], given,
                    f"{scenario}: ca_names_given")
        seen = verdicts(choose)
        check_equal(seen["Alice P-384"], (True, []),
                    f"{scenario}: verdict on Alice P-384")
        if given:
            check("issuer-not-accepted" in seen["Alice Elsewhere"][1],
                  f"{scenario}: Alice Elsewhere not excluded by issuer: "
                  f"{seen['Alice Elsewhere']}")
        else:
            check_equal(seen["Alice Elsewhere"], (True, []),
                        f"{scenario}: verdict on Alice Elsewhere")


run(test)
