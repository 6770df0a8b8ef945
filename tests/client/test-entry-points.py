#!/usr/bin/python3
"""Both entry points (SSL_CTX_set_cert_cb and the drop-in client_cert_cb)
send the whole chain in each way of waiting for certpickd: the libevent
driver, blocking, and polling the agent socket. The leaf comes from an
intermediate and the server trusts only the root."""

from clienttest import check_in, check_status, run


def test(ctx):
    ctx.import_identities("rsa2048")
    ctx.start_daemon({"default": {"choose": "label:Alice RSA-2048",
                                  "remember": "session"}})

    for version in ("1.2", "1.3"):
        server = ctx.s_server(version=version)
        for entry in ("cert_cb", "client_cert_cb"):
            for mode in ("event", "blocking", "poll"):
                scenario = f"TLS {version} {entry} {mode}"
                result = ctx.tls_client(f"--tls{version}", "--entry", entry,
                                        "--mode", mode, "127.0.0.1",
                                        str(server.port))
                check_status(result, 0, scenario)
                check_in("sent Alice RSA-2048", result.stdout, scenario)
                check_in("Subject: O=certpick test, CN=Alice RSA-2048",
                         result.stdout, scenario)


run(test)
