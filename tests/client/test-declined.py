#!/usr/bin/python3
"""The person declines ("send no certificate"): the handshake goes on
without a certificate and the server decides. A server that requires one
is reported as such, in TLS 1.2 (handshake failure) and 1.3 (on the first
read), and nothing hangs."""

import time

from clienttest import check, check_equal, check_in, check_status, run


def test(ctx):
    ctx.import_identities("p256")
    ctx.start_daemon({"default": {"choose": None}})

    for version, alert in (("1.2", "alert 40"), ("1.3", "alert 116")):
        server = ctx.s_server(version=version)
        started = time.monotonic()
        result = ctx.connect(f"--tls{version}", "-v",
                             f"https://127.0.0.1:{server.port}/")
        check_status(result, 5, f"TLS {version}")
        check_in("server requires a client certificate, and none was "
                 f"sent ({alert}", result.stderr, f"TLS {version}")
        check(time.monotonic() - started < 10,
              f"TLS {version}: the refusal took 10 s or more")
        check("ReportRejected" not in ctx.daemon.log() and
              "rejected identity" not in ctx.daemon.log(),
              "a rejection was reported with no identity sent")

    # nginx completes the handshake and replies with status 400.
    nginx = ctx.nginx()
    result = ctx.connect(f"https://127.0.0.1:{nginx.port}/")
    check_status(result, 7, "nginx")
    check_in("No required SSL certificate was sent", result.stdout,
             "nginx page")

    # A server that only requests a certificate accepts the connection.
    server = ctx.s_server(verify="request")
    result = ctx.connect("-v", f"https://127.0.0.1:{server.port}/")
    check_status(result, 0, "optional client certificate")
    check_in("no client certificate available", result.stdout,
             "s_server page")
    check_in("sent no certificate", result.stderr, "certpick connect -v")

    # "Send no certificate", remembered for the session, is not asked
    # again for the same server.
    ctx.picker.set_script({"default": {"choose": None,
                                       "remember": "session"}})
    server = ctx.s_server(verify="request")
    url = f"https://127.0.0.1:{server.port}/"
    before = len(ctx.picker.chooses())
    for _ in range(2):
        check_status(ctx.connect(url), 0, "remembered decline")
    check_equal(len(ctx.picker.chooses()) - before, 1,
                "Choose calls for two connections after a remembered "
                "decline")


run(test)
