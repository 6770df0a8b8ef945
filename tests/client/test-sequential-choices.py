#!/usr/bin/python3
"""Connections in a row from one process, each with a different choice
(a certificate, none, another certificate): each connection presents
only its own choice, through both entry points and every way of
waiting."""

from clienttest import check_equal, check_status, run, sent_and_seen

CHOICES = ["Alice P-256", None, "Alice P-384"]


def test(ctx):
    ctx.import_identities("p256", "p384")
    ctx.start_daemon()
    expected = [(c or "none", c or "none") for c in CHOICES]

    for version in ("1.2", "1.3"):
        server = ctx.s_server(version=version, verify="request")
        for entry in ("cert_cb", "client_cert_cb"):
            for mode in ("event", "blocking", "poll"):
                scenario = f"TLS {version} {entry} {mode}"
                ctx.picker.set_script({"actions": [
                    {"choose": None if c is None else "label:" + c}
                    for c in CHOICES]})
                result = ctx.tls_client(
                    "--entry", entry, "--mode", mode, "--connections", "3",
                    "127.0.0.1", str(server.port))
                check_status(result, 0, scenario)
                check_equal(sent_and_seen(result.stdout), expected, scenario)


run(test)
