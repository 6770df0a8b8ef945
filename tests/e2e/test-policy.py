#!/usr/bin/python3
"""An auto-select policy whose filter fits exactly one eligible identity
settles the request in TLS 1.2 and 1.3 with no dialog, so certpickd does
not even start the picker."""

import json

from e2etest import P256_SUBJECT, check, check_equal, check_page, run

RULE = {"pattern": "https://localhost",
        "filter": {"ISSUER": {"CN": "certpick Test Intermediate CA"}}}


def test(ctx):
    ctx.import_all()
    nginx = ctx.nginx()
    ctx.start_daemon(policy={"AutoSelectCertificateForUrls":
                             [json.dumps(RULE)]})
    for version in ("1.2", "1.3"):
        result = ctx.connect(f"--tls{version}", ctx.url(nginx))
        check_page(result, P256_SUBJECT, f"policy, TLS {version}")
    log = ctx.daemon.log()
    check_equal(log.count("policy selected identity 'Alice P-256' for "
                          f"localhost:{nginx.port}"), 2,
                "connections answered by the policy")
    check_equal(ctx.dialogs_shown(), 0, "dialogs shown")
    check("started the picker" not in log,
          "certpickd started the picker although the policy decided")


run(test)
