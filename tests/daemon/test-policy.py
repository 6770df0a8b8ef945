#!/usr/bin/python3
"""The auto-select policy in Chromium's AutoSelectCertificateForUrls format:
a request whose server matches a pattern and for which exactly one eligible
identity fits the filter is answered without the picker, and logged with
the requester's pid and uid. Patterns: "[*.]" for subdomains, an omitted
port for any port, IPv6 in brackets. Invalid entries are skipped with a
warning; an invalid file stops certpickd from starting."""

import json
import os
import subprocess

from daemontest import Client, Daemon, Picker, check, check_equal, run

RULES = [
    {"pattern": "https://[*.]corp.test",
     "filter": {"ISSUER": {"CN": "certpick Test Intermediate CA"},
                "SUBJECT": {"CN": "Alice P-256", "O": "certpick test"}}},
    {"pattern": "exact.test:8443", "filter": {"SUBJECT": {"O": "Elsewhere"}}},
    {"pattern": "many.test",
     "filter": {"ISSUER": {"CN": "certpick Test Intermediate CA"}}},
    {"pattern": "[::1]:9443", "filter": {"SUBJECT": {"CN": "Alice P-384"}}},
    {"pattern": "*://nofit.test:*", "filter": {"SUBJECT": {"L": "Nowhere"}}},
]
INVALID = [
    "this is not JSON",
    json.dumps({"pattern": "http://plain.test", "filter": {}}),
    json.dumps({"pattern": "[*.]path.test/login", "filter": {}}),
    json.dumps({"pattern": "country.test", "filter": {"SUBJECT": {"C": "DE"}}}),
    json.dumps({"pattern": "nofilter.test"}),
    json.dumps({"pattern": "port.test:99999", "filter": {}}),
    json.dumps({"pattern": "[*.]192.0.2.1", "filter": {}}),
]


def select(home, host, port):
    client = Client(home.socket)
    reply = client.call("Select", {"host": host, "port": port})
    return client, reply


def decided(home, host, port):
    client, reply = select(home, host, port)
    client.close()
    check("error" not in reply, f"{host}:{port}: {reply}")
    return reply["parameters"]["decided_by"], reply["parameters"]["label"]


def test(home):
    home.import_identity("p256")
    home.import_identity("rsa2048")
    home.import_identity("p384")
    home.import_identity("other-issuer")
    picker = Picker(home, {"default": {"choose": "preselected"}})
    policy = {"AutoSelectCertificateForUrls":
              [json.dumps(rule) for rule in RULES] + INVALID,
              "SomeOtherChromePolicy": True}
    daemon = Daemon(home, picker, policy=policy).start()
    log = daemon.log()
    check(f"loaded {len(RULES)} auto-select rules" in log,
          "valid rules loaded")
    check_equal(log.count("ignoring entry"), len(INVALID),
                "each invalid entry is reported")
    check(f"ignoring entry {len(RULES) + 1}, pattern 'http://plain.test': "
          "the scheme is not https" in log,
          f"the warning names the pattern:\n{log}")

    cases = [
        ("corp.test", 443, ("policy", "Alice P-256")),
        ("www.corp.test", 443, ("policy", "Alice P-256")),
        ("a.b.corp.test", 8443, ("policy", "Alice P-256")),
        ("exact.test", 8443, ("policy", "Alice Elsewhere")),
        ("::1", 9443, ("policy", "Alice P-384")),
        ("[::1]", 9443, ("policy", "Alice P-384")),
    ]
    for host, port, expected in cases:
        check_equal(decided(home, host, port), expected, f"{host}:{port}")
    check_equal(picker.chooses(), [], "no dialog for policy answers")

    # Not matching: another port, a look-alike name, no fitting identity.
    for host, port in [("exact.test", 443), ("notcorp.test", 443),
                       ("::1", 9444), ("nofit.test", 1)]:
        by, _ = decided(home, host, port)
        check_equal(by, "picker", f"{host}:{port} goes to the picker")

    # Two identities fit: the person chooses, with the first preselected.
    by, label = decided(home, "many.test", 443)
    check_equal(by, "picker", "many.test goes to the picker")
    choose = picker.chooses("many.test")[0]["parameters"]
    fits = [c["id"] for c in choose["candidates"] if c["eligible"] and
            c["issuer_common_name"] == "certpick Test Intermediate CA"]
    check_equal(len(fits), 2, "two identities fit many.test")
    check(choose["preselected"] in fits, "a fitting identity is preselected")

    # The policy decision is logged with the requester.
    client, reply = select(home, "log.corp.test", 443)
    line = [l for l in daemon.log().splitlines()
            if "policy selected" in l and "log.corp.test" in l][0]
    check(f"pid {os.getpid()} uid {os.getuid()}" in line,
          f"pid and uid in the log: {line}")
    check("warning" not in line and "error" not in line,
          "logged at notice level")
    # The connection may sign with the identity the policy chose.
    sign = client.call("Sign", {"id": reply["parameters"]["id"],
                                "algorithm": "ecdsa_secp256r1_sha256",
                                "data": "AAEC"})
    check("signature" in sign.get("parameters", {}), f"Sign: {sign}")
    client.close()
    daemon.stop()

    # A policy file that is not JSON stops certpickd with a clear message.
    with open(daemon.policy_path, "w") as f:
        f.write("{not json")
    result = subprocess.run(daemon.command(), env=daemon.environment(),
                            capture_output=True, text=True, timeout=30)
    check_equal(result.returncode, 1, "exit status with a broken policy")
    check("cannot load the policy file" in result.stderr and
          daemon.policy_path in result.stderr,
          f"message names the file: {result.stderr}")
    with open(daemon.policy_path, "w") as f:
        json.dump({"AutoSelectCertificateForUrls": {"pattern": "x"}}, f)
    result = subprocess.run(daemon.command(), env=daemon.environment(),
                            capture_output=True, text=True, timeout=30)
    check_equal(result.returncode, 1, "exit status with a wrong shape")
    check("not an object with an array" in result.stderr,
          f"message says what shape: {result.stderr}")
    os.unlink(daemon.policy_path)
    result = subprocess.run(daemon.command(), env=daemon.environment(),
                            capture_output=True, text=True, timeout=30)
    check_equal(result.returncode, 1, "exit status with a missing --policy")


run(test)
