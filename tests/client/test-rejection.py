#!/usr/bin/python3
"""A server rejects the certificate sent. In TLS 1.3 the handshake
completes and the rejection arrives on the first read. In TLS 1.2 the
handshake fails. Both are reported as "server rejected certificate
LABEL", and certpickd is told, so that the remembered decision is dropped
and the next connection asks again. The servers name no CA, so that the
identity from an unrelated CA is eligible; they trust only the root."""

from clienttest import check, check_equal, check_in, check_status, run


def decisions_for(ctx, port):
    return [d for d in ctx.decisions() if d["port"] == port]


def test(ctx):
    ctx.import_identities("p384", "other-issuer")
    ctx.start_daemon({"default": {"choose": "label:Alice Elsewhere",
                                  "remember": "session"}})

    for version in ("1.3", "1.2"):
        scenario = f"TLS {version}"
        ctx.picker.set_script({"actions": [
            {"choose": "label:Alice Elsewhere", "remember": "session"},
            {"choose": "label:Alice P-384", "remember": "once"}]})
        server = ctx.s_server(version=version, ca_list="")
        url = f"https://127.0.0.1:{server.port}/"
        before = len(ctx.picker.chooses())

        result = ctx.connect(f"--tls{version}", "-v", url)
        check_status(result, 5, scenario)
        check_in("server rejected certificate 'Alice Elsewhere' (alert 48",
                 result.stderr, scenario)
        if version == "1.3":
            check_in("connected to", result.stderr,
                     "TLS 1.3 handshake before the rejection")
        check_equal(decisions_for(ctx, server.port), [],
                    f"{scenario}: decisions after the rejection")
        check_in(f"127.0.0.1:{server.port} rejected identity",
                 ctx.daemon.log(), f"{scenario}: certpickd log")

        # The decision is gone, so the picker is asked again.
        result = ctx.connect(f"--tls{version}", url)
        check_status(result, 0, f"{scenario}, second connection")
        check_equal(len(ctx.picker.chooses()) - before, 2,
                    f"{scenario}: Choose calls")
        check_in("CN=Alice P-384", result.stdout, f"{scenario} page")

    # The same through the library's bufferevent, in TLS 1.3.
    ctx.picker.set_script({"default": {"choose": "label:Alice Elsewhere"}})
    server = ctx.s_server(version="1.3", ca_list="")
    result = ctx.tls_client("127.0.0.1", str(server.port))
    check_status(result, 5, "tls-client")
    check_in("server rejected certificate 'Alice Elsewhere'", result.stderr,
             "tls-client")
    check("sent Alice Elsewhere" in result.stdout,
          f"tls-client did not send the identity: {result!r}")


run(test)
