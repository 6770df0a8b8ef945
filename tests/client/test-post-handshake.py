#!/usr/bin/python3
"""TLS 1.3 post-handshake authentication through the libevent
bufferevent: openssl s_server's "c" command requests a certificate after
the handshake. certpick sends Select to certpickd and then the
certificate, and the connection carries data both ways afterwards. A rejected one is
reported. The server names no CA, so that the identity from an unrelated
CA is eligible; it trusts only the root."""

from clienttest import check, check_in, run, wait_for_text


def session(ctx, label, trusted):
    # No -verify: the handshake itself requests no certificate.
    server = ctx.s_server(version="1.3", verify=None, www=False,
                          ca_list="")
    client = ctx.start_connect("-v", f"127.0.0.1:{server.port}")
    wait_for_text(client.errors, "sent no certificate", "client output")

    client.send("before\n")
    wait_for_text(server.output, "before", "server output")
    server.send("c\n")
    wait_for_text(server.errors, f"depth=0 {label}", "server verify log")
    if not trusted:
        status = client.wait()
        check(status == 5, f"expected exit status 5, got {status}: "
              f"{client.errors()}")
        return client

    client.send("after\n")
    wait_for_text(server.output, "after", "server output")
    server.send("to client\n")
    wait_for_text(client.output, "to client", "client output")
    client.close_stdin()
    status = client.wait()
    check(status == 0, f"expected exit status 0, got {status}: "
          f"{client.errors()}")
    return client


def test(ctx):
    ctx.import_identities("p384", "other-issuer")
    ctx.start_daemon({"actions": [{"choose": "label:Alice P-384"},
                                  {"choose": "label:Alice Elsewhere"}]})

    client = session(ctx, "O = certpick test, CN = Alice P-384", True)
    check_in("sent certificate 'Alice P-384'", client.errors(),
             "certpick connect -v")
    check_in("after a post-handshake request", client.errors(),
             "certpick connect -v")
    check(len(ctx.picker.chooses()) == 1, "Choose was not called once")

    client = session(ctx, "O = Elsewhere, CN = Alice Elsewhere", False)
    check_in("server rejected certificate 'Alice Elsewhere'",
             client.errors(), "certpick connect")


run(test)
