#!/usr/bin/python3
"""One SSL reused with SSL_clear for connections in a row, each with a
different choice (a certificate, none, another certificate). Through both
entry points, the person is asked for each connection, and each connection
presents only its own choice. The server keeps no sessions, so every
handshake is a full one with its own certificate request."""

from clienttest import check_equal, check_status, run, sent_and_seen

CHOICES = ["Alice P-256", None, "Alice P-384"]


def test(ctx):
    ctx.import_identities("p256", "p384")
    ctx.start_daemon()
    expected = [(c or "none", c or "none") for c in CHOICES]

    for version in ("1.2", "1.3"):
        server = ctx.s_server(version=version, verify="request",
                              extra=("-no_cache", "-no_ticket"))
        for entry in ("cert_cb", "client_cert_cb"):
            for mode in ("blocking", "poll"):
                scenario = f"TLS {version} {entry} {mode}"
                ctx.picker.set_script({"actions": [
                    {"choose": None if c is None else "label:" + c}
                    for c in CHOICES]})
                dialogs_before = len(ctx.picker.chooses())
                result = ctx.tls_client(
                    "--entry", entry, "--mode", mode, "--connections", "3",
                    "--reuse-ssl", "127.0.0.1", str(server.port))
                check_status(result, 0, scenario)
                check_equal(len(ctx.picker.chooses()) - dialogs_before, 3,
                            f"{scenario}: dialogs shown")
                check_equal(sent_and_seen(result.stdout), expected, scenario)
                # certpickd's reason for none belongs to its connection.
                reasons = [("none reason: declined" in block)
                           for block in
                           result.stdout.split("=== connection ")[1:]]
                check_equal(reasons, [c is None for c in CHOICES],
                            f"{scenario}: connections with a reason for "
                            "none")


run(test)
