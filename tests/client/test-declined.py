#!/usr/bin/python3
"""The person declines ("send no certificate"): the handshake goes on
without a certificate and the server decides. A server that requires one
is reported as such, in TLS 1.2 (handshake failure) and 1.3 (on the first
read), and nothing hangs. The message states whether the person declined or
no identity fits, and when certpickd showed no dialog, certpick connect
prints why no certificate went out."""

import time

from clienttest import check, check_equal, check_in, check_status, run


def nobody_asked(ctx):
    """An empty store, then a store of one expired identity: certpickd
    sends no certificate without asking, and certpick connect names the
    cause."""
    server = ctx.s_server(version="1.3")
    url = f"https://127.0.0.1:{server.port}/"
    result = ctx.connect(url)
    check_status(result, 5, "empty store")
    check_in("certpickd's identity store is empty; add an identity with "
             "'certpick import FILE'", result.stderr, "empty store")

    ctx.import_identities("expired")
    result = ctx.connect(url)
    check_status(result, 5, "only an expired identity")
    check_in("no identity in certpickd's store can be used now (1 in all); "
             "'certpick match' gives the reasons", result.stderr,
             "only an expired identity")
    check_equal(ctx.picker.chooses(), [], "Choose calls without an "
                "eligible identity")

    # An identity that only this server's CA names exclude: certpickd's
    # reason distinguishes it from a decline in the picker.
    ctx.import_identities("other-issuer")
    result = ctx.connect(url)
    check_status(result, 5, "an identity of another issuer")
    check_in("no identity in certpickd's store fits this server's request",
             result.stderr, "an identity of another issuer")
    check("the person chose" not in result.stderr,
          f"a decline reported where no dialog was shown: {result.stderr!r}")


def test(ctx):
    ctx.start_daemon({"default": {"choose": None}})
    nobody_asked(ctx)
    ctx.import_identities("p256")

    for version, alert in (("1.2", "alert 40"), ("1.3", "alert 116")):
        server = ctx.s_server(version=version)
        started = time.monotonic()
        result = ctx.connect(f"--tls{version}", "-v",
                             f"https://127.0.0.1:{server.port}/")
        check_status(result, 5, f"TLS {version}")
        check_in("server requires a client certificate, and none was "
                 f"sent ({alert}", result.stderr, f"TLS {version}")
        check_in("the person chose to send none", result.stderr,
                 f"TLS {version}")
        check(time.monotonic() - started < 10,
              f"TLS {version}: the refusal took 10 s or more")
        check("ReportRejected" not in ctx.daemon.log() and
              "rejected identity" not in ctx.daemon.log(),
              "a rejection was reported with no identity sent")
        check("certpick forget" not in result.stderr,
              f"TLS {version}: a hint to forget a decision that was not "
              f"remembered: {result.stderr!r}")

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

    # When a remembered decline meets a server that requires a
    # certificate, certpick connect prints how to be asked again.
    server = ctx.s_server(version="1.3")
    nginx = ctx.nginx()
    for name, port, status in (("s_server", server.port, 5),
                               ("nginx", nginx.port, 7)):
        target = f"127.0.0.1:{port}"
        result = ctx.connect(f"https://{target}/")
        check_status(result, status, f"remembered decline, {name}")
        check_in(f"run 'certpick forget {target}' to be asked again",
                 result.stderr, f"remembered decline, {name}")
        before = len(ctx.picker.chooses())
        forgot = ctx.home.cli("forget", target).stdout
        check_equal(forgot, "forgot 1 decision\n", f"forget, {name}")
        check_status(ctx.connect(f"https://{target}/"), status,
                     f"after forget, {name}")
        check_equal(len(ctx.picker.chooses()) - before, 1,
                    f"Choose calls after forget, {name}")


run(test)
