#!/usr/bin/python3
"""A leaf issued by an intermediate reaches servers that trust only the
root, so certpick must send the intermediate: the client's verify store
holds only the server's CA, and OpenSSL cannot complete the chain from
it."""

from clienttest import check_in, check_status, run


def test(ctx):
    ctx.import_identities("p256")
    ctx.start_daemon({"default": {"choose": "label:Alice P-256",
                                  "remember": "session"}})

    for version in ("1.2", "1.3"):
        server = ctx.s_server(version=version)
        result = ctx.connect(f"--tls{version}", "-v",
                             f"https://127.0.0.1:{server.port}/")
        check_status(result, 0, f"s_server TLS {version}")
        check_in("Subject: O=certpick test, CN=Alice P-256", result.stdout,
                 f"s_server TLS {version} page")
        check_in("sent certificate 'Alice P-256'", result.stderr,
                 "certpick connect -v")

    nginx = ctx.nginx()
    result = ctx.connect(f"https://127.0.0.1:{nginx.port}/")
    check_status(result, 0, "nginx")
    check_in("verify=SUCCESS subject=CN=Alice P-256,O=certpick test",
             result.stdout, "nginx page")

    # gnutls-serv lists every certificate that the client sent.
    gnutls = ctx.gnutls_serv()
    result = ctx.connect(f"https://127.0.0.1:{gnutls.port}/")
    check_status(result, 0, "gnutls-serv")
    check_in("Subject: CN=Alice P-256,O=certpick test", result.stdout,
             "gnutls-serv page")
    check_in("Subject: CN=certpick Test Intermediate CA,O=certpick test",
             result.stdout, "gnutls-serv page")


run(test)
