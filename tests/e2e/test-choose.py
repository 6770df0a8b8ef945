#!/usr/bin/python3
"""The main job, in TLS 1.2 and 1.3: certpick connect to nginx, which
trusts only the root CA. The picker names the program and the server,
lists the eligible identities and gives the reason for each excluded one.
The person chooses the identity that the intermediate CA issued, and nginx
responds with 200 and its subject, so the chain went with it."""

from e2etest import (P256_SUBJECT, check_dialog, check_page, choose, finish,
                     run)


def test(ctx):
    ctx.import_all()
    nginx = ctx.nginx()
    ctx.start_daemon()
    for version in ("1.2", "1.3"):
        client = ctx.start_connect(f"--tls{version}", ctx.url(nginx))
        frame = ctx.wait_for_dialog(client)
        check_dialog(frame, "localhost", nginx.port)
        choose(ctx, client, "Alice P-256", state=f"tls{version}")
        check_page(finish(client), P256_SUBJECT, f"TLS {version}")


run(test)
