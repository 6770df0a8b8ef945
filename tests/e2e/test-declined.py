#!/usr/bin/python3
"""Declining in the picker, with Escape in TLS 1.3 and with Send No
Certificate in TLS 1.2: nginx, which requires a client certificate,
responds with 400 "No required SSL certificate was sent", and certpick
connect reports it on one line and exits with status 7. A declined dialog is not
remembered, so the second connection asks again."""

from e2etest import check_equal, finish, pt, run
from clienttest import check_in, check_status


def test(ctx):
    ctx.import_all()
    nginx = ctx.nginx()
    ctx.start_daemon()
    message = (f"certpick connect: localhost:{nginx.port} returned HTTP "
               "status 400 Bad Request; no client certificate was "
               "sent\n")

    client = ctx.start_connect("--tls1.3", ctx.url(nginx))
    frame = ctx.wait_for_dialog(client)
    ctx.shot(frame, "escape")
    pt.press("Escape")
    result = finish(client)
    check_status(result, 7, "declined with Escape")
    check_in("No required SSL certificate was sent", result.stdout,
             "nginx's page")
    check_equal(result.stderr, message, "certpick connect's message")

    client = ctx.start_connect("--tls1.2", ctx.url(nginx))
    frame = ctx.wait_for_dialog(client)
    pt.do_action(pt.find(frame, role="push button",
                         name="Send No Certificate"), "click")
    result = finish(client)
    check_status(result, 7, "declined with Send No Certificate")
    check_in("No required SSL certificate was sent", result.stdout,
             "nginx's page")
    check_equal(result.stderr, message, "certpick connect's message")
    check_equal(ctx.dialogs_shown(), 2, "dialogs shown")


run(test)
