#!/usr/bin/python3
"""A decision remembered "always" settles later connections, in TLS 1.2
and 1.3, with no dialog. certpick forget brings the dialog back."""

from e2etest import (P256_SUBJECT, RSA3072_SUBJECT, check, check_equal,
                     check_page, choose, finish, run)
from clienttest import check_in


def test(ctx):
    ctx.import_all()
    nginx = ctx.nginx()
    ctx.start_daemon()
    url = ctx.url(nginx)
    server = f"localhost:{nginx.port}"

    client = ctx.start_connect("--tls1.3", url)
    choose(ctx, client, "Alice P-256", scope="always", state="always")
    check_page(finish(client), P256_SUBJECT, "first connection")
    decisions = ctx.home.cli("decisions").stdout
    check_in(f"{server} ", decisions, "certpick decisions")
    check_in(" always ", decisions, "certpick decisions")
    check_in("Alice P-256", decisions, "certpick decisions")

    shown = ctx.dialogs_shown()
    check_equal(shown, 1, "dialogs shown for the first connection")
    for version in ("1.2", "1.3"):
        result = ctx.connect(f"--tls{version}", url)
        check_page(result, P256_SUBJECT, f"remembered, TLS {version}")
    check_equal(ctx.dialogs_shown(), shown,
                "dialogs shown for remembered decisions")
    check(ctx.dialog_hidden(), "a dialog shows for a remembered decision")
    check_equal(ctx.daemon.log().count("'Alice P-256', as remembered"), 2,
                "connections answered from the remembered decision")

    forgot = ctx.home.cli("forget", server).stdout
    check_equal(forgot, "forgot 1 decision\n", "certpick forget")
    client = ctx.start_connect("--tls1.2", url)
    choose(ctx, client, "Alice RSA-3072", state="after-forget")
    check_page(finish(client), RSA3072_SUBJECT, "after certpick forget")
    check_equal(ctx.dialogs_shown(), shown + 1,
                "dialogs shown after certpick forget")


run(test)
