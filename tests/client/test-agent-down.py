#!/usr/bin/python3
"""certpickd cannot be reached: the connection fails with a message that
names the cause, or goes on without a certificate when the program
requests that.
certpickd stopping while a request waits fails it without a hang, and a
process whose idle connection to certpickd went away with a restart
opens a new one."""

import os
import time

from clienttest import (check, check_in, check_status, run,
                        wait_for_text)


def test(ctx):
    missing = os.path.join(ctx.home.root, "run", "missing", "socket")
    no_agent = {"CERTPICK_SOCKET": missing,
                "CERTPICKD": "/nonexistent/certpickd"}
    required = ctx.s_server(version="1.3")
    optional = ctx.s_server(version="1.3", verify="request")
    url = f"https://127.0.0.1:{required.port}/"

    # certpick connect starts certpickd on demand, and reports when it
    # cannot.
    result = ctx.connect(url, env=no_agent)
    check_status(result, 6, "certpick connect without certpickd")
    check_in("cannot start certpickd '/nonexistent/certpickd'",
             result.stderr, "certpick connect")

    # The library without autostart, through each entry point and mode.
    for entry in ("cert_cb", "client_cert_cb"):
        for mode in ("event", "blocking", "poll"):
            scenario = f"{entry} {mode}"
            result = ctx.tls_client("--entry", entry, "--mode", mode,
                                    "127.0.0.1", str(required.port),
                                    env=no_agent)
            check_status(result, 6, scenario)
            check_in("cannot connect to certpickd at", result.stderr, scenario)
            check_in("is certpickd running?", result.stderr, scenario)

            # Asked to, it goes on without a certificate and the server
            # decides.
            result = ctx.tls_client("--entry", entry, "--mode", mode,
                                    "--continue-without-agent",
                                    "127.0.0.1", str(optional.port),
                                    env=no_agent)
            check_status(result, 0, f"{scenario} continuing, optional")
            check_in("sent none", result.stdout, f"{scenario} continuing")
            check_in("no client certificate available", result.stdout,
                     f"{scenario} continuing")
            result = ctx.tls_client("--entry", entry, "--mode", mode,
                                    "--continue-without-agent",
                                    "127.0.0.1", str(required.port),
                                    env=no_agent)
            check_status(result, 5, f"{scenario} continuing, required")

    # certpickd stops while the picker is open: the request fails.
    ctx.import_identities("p256")
    ctx.start_daemon({"default": {"wait": True}})
    client = ctx.start_connect(url)
    ctx.picker.wait_for_choose()
    started = time.monotonic()
    ctx.stop_daemon()
    status = client.wait(timeout=10)
    check(status == 6, f"expected exit status 6 after certpickd stopped, "
          f"got {status}: {client.errors()}")
    check(time.monotonic() - started < 10, "the failure took 10 s or more")
    wait_for_text(client.errors, "certpickd", "certpick connect's errors")

    # A restart between two connections of one process: the library's
    # idle connection to the old certpickd is closed, so it opens another.
    ctx.start_daemon({"default": {"choose": "label:Alice P-256"}})
    client = ctx.start_tls_client("--connections", "2", "--wait-between",
                                  "127.0.0.1", str(required.port))
    wait_for_text(client.output, "Subject: O=certpick test, CN=Alice P-256",
                  "the first connection's page")
    ctx.stop_daemon()
    ctx.start_daemon({"default": {"choose": "label:Alice P-256"}})
    client.send("next\n")
    status = client.wait()
    check(status == 0, f"expected exit status 0 after the restart, got "
          f"{status}: {client.errors()}")
    check(client.output().count("sent Alice P-256") == 2,
          f"both connections did not send the identity: {client.output()}")


run(test)
