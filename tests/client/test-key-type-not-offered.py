#!/usr/bin/python3
"""An identity whose key cannot sign with any scheme the server accepts is
not offered: the picker shows it as excluded (key-type-not-accepted), and
when no identity fits, no certificate is sent rather than a wrong one."""

import time

from clienttest import check, check_equal, check_in, check_status, run


def verdicts(choose):
    return {c["label"]: (c["eligible"], c["reasons"])
            for c in choose["parameters"]["candidates"]}


def test(ctx):
    ctx.import_identities("rsa2048", "p256", "p384", "ed25519")
    ctx.start_daemon({"default": {}})  # the first eligible identity

    # TLS 1.2, ECDSA with SHA-256 only: the RSA and Ed25519 keys cannot
    # sign, the P-256 and P-384 keys can.
    server = ctx.s_server(version="1.2",
                          extra=("-client_sigalgs", "ECDSA+SHA256"))
    result = ctx.connect("--tls1.2", "-v",
                         f"https://127.0.0.1:{server.port}/")
    check_status(result, 0, "ECDSA-only TLS 1.2 server")
    seen = verdicts(ctx.picker.chooses()[-1])
    for label in ("Alice RSA-2048", "Alice Ed25519"):
        check_equal(seen[label], (False, ["key-type-not-accepted"]),
                    f"TLS 1.2 verdict on {label}")
    for label in ("Alice P-256", "Alice P-384"):
        check_equal(seen[label][0], True, f"TLS 1.2 verdict on {label}")
    check("sent certificate 'Alice P-" in result.stderr,
          f"an ECDSA identity was not sent: {result.stderr}")

    # TLS 1.3 binds each ECDSA scheme to a curve: a P-384-only server
    # excludes the P-256 key.
    server = ctx.s_server(version="1.3",
                          extra=("-client_sigalgs", "ecdsa_secp384r1_sha384"))
    result = ctx.connect("--tls1.3", "-v",
                         f"https://127.0.0.1:{server.port}/")
    check_status(result, 0, "P-384-only TLS 1.3 server")
    seen = verdicts(ctx.picker.chooses()[-1])
    check_equal(seen["Alice P-256"], (False, ["key-type-not-accepted"]),
                "TLS 1.3 verdict on Alice P-256")
    check_equal(seen["Alice P-384"], (True, []),
                "TLS 1.3 verdict on Alice P-384")
    check_in("sent certificate 'Alice P-384'", result.stderr,
             "certpick connect -v")
    check_in("CN=Alice P-384", result.stdout, "s_server page")

    # Ed448 only: nothing fits. The client sends no certificate, and the
    # server's refusal is reported at once.
    choose_calls = len(ctx.picker.chooses())
    server = ctx.s_server(version="1.3", extra=("-client_sigalgs", "ed448"))
    started = time.monotonic()
    result = ctx.connect("--tls1.3", f"https://127.0.0.1:{server.port}/")
    check_status(result, 5, "Ed448-only server")
    check_in("server requires a client certificate, and none was sent",
             result.stderr, "certpick connect")
    check(time.monotonic() - started < 10, "the refusal took 10 s or more")
    for choose in ctx.picker.chooses()[choose_calls:]:
        check(not any(c["eligible"]
                      for c in choose["parameters"]["candidates"]),
              "an identity was offered to an Ed448-only server")


run(test)
