#!/usr/bin/python3
"""libcertpick checks certpickd's replies to Select and Sign against
org.certpick.Agent. A server that only pretends to be certpickd may send a
reply without a member, or with one of the wrong type: the connection then
fails with a message that names the member. A Sign error whose reason is
not a string is no longer printed as "(null)"."""

import os

from clienttest import check, check_in, check_status, daemontest, run

AGENT = "org.certpick.Agent."


def chain_base64():
    leaf = daemontest.der_base64_of_pem(daemontest.pki("leaves", "p256",
                                                       "cert.pem"))
    issuer = daemontest.der_base64_of_pem(daemontest.pki("ca",
                                                         "inter.pem"))
    return [leaf, issuer]


def identity(**changes):
    parameters = {"id": "a" * 64, "label": "Alice P-256",
                  "chain": chain_base64(), "key_type": "EC",
                  "decided_by": "picker"}
    parameters.update(changes)
    return {"parameters": {k: v for k, v in parameters.items()
                           if v is not None}}


def test(ctx):
    replies = {}
    agent = daemontest.FakeAgent(
        ctx.home.socket,
        lambda call: replies.get(call["method"], {"parameters": {}}))
    server = ctx.s_server(version="1.3", trust="inter")
    url = f"https://127.0.0.1:{server.port}/"
    cases = [
        ("Select without a label", identity(label=None), None, "'label'"),
        ("Select with a numeric id", identity(id=7), None, "'id'"),
        ("NoCertificate with a numeric reason",
         {"error": AGENT + "NoCertificate", "parameters": {"reason": 7}},
         None, "'reason'"),
        ("SigningFailed with a numeric reason", identity(),
         {"error": AGENT + "SigningFailed",
          "parameters": {"id": "a" * 64, "reason": 5}}, "'reason'"),
        ("a service error with a numeric reason", identity(),
         {"error": "org.varlink.service.InvalidParameter",
          "parameters": {"parameter": "data", "reason": 5}},
         "org.varlink.service.InvalidParameter"),
        ("Sign without a signature", identity(), {"parameters": {}},
         "'signature'"),
    ]
    for scenario, select, sign, named in cases:
        replies[AGENT + "Select"], replies[AGENT + "Sign"] = select, sign
        result = ctx.connect(url)
        check_status(result, 6, scenario)
        check_in(named, result.stderr, scenario)
        check("(null)" not in result.stderr,
              f"{scenario}: a null string printed: {result.stderr!r}")
    agent.close()
    os.unlink(ctx.home.socket)


run(test)
