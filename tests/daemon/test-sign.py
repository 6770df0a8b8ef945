#!/usr/bin/python3
"""Sign: a connection signs with an identity it received, and openssl
verifies the signature against the certificate. Another connection, or an
identity the connection did not receive, gets NotPermitted. Schemes that do
not fit the key, and bad inputs, get clear errors."""

import base64
import hashlib
import os
import subprocess

from daemontest import Client, Daemon, Picker, check, check_equal, pki, run

DATA = b"the TLS handshake transcript, more or less"


def public_key(home, name):
    path = os.path.join(home.root, name + ".pub.pem")
    subprocess.run(["openssl", "x509", "-in", pki("leaves", name, "cert.pem"),
                    "-pubkey", "-noout", "-out", path], check=True)
    return path


def verify(home, name, signature_b64, *openssl_args):
    """Verifies a signature over DATA with openssl."""
    data = os.path.join(home.root, "data.bin")
    sig = os.path.join(home.root, "sig.bin")
    with open(data, "wb") as f:
        f.write(DATA)
    with open(sig, "wb") as f:
        f.write(base64.b64decode(signature_b64))
    key = public_key(home, name)
    if openssl_args and openssl_args[0] == "pkeyutl":
        cmd = ["openssl", "pkeyutl", "-verify", "-pubin", "-inkey", key,
               "-rawin", "-in", data, "-sigfile", sig]
    else:
        cmd = ["openssl", "dgst", *openssl_args, "-verify", key,
               "-signature", sig, data]
    result = subprocess.run(cmd, capture_output=True, text=True)
    output = result.stdout + result.stderr
    check(result.returncode == 0 and ("Verified OK" in output or
                                      "Verified Successfully" in output),
          f"openssl verifies the {name} signature: {output}")


def sign(client, identity_id, algorithm, **input_):
    parameters = {"id": identity_id, "algorithm": algorithm}
    parameters.update(input_)
    return client.call("Sign", parameters)


def signature(reply, what):
    check("error" not in reply, f"{what}: {reply}")
    return reply["parameters"]["signature"]


def test(home):
    p256 = home.import_identity("p256")
    rsa = home.import_identity("rsa2048")
    ed = home.import_identity("ed25519")
    picker = Picker(home, {"by_host": {
        "ec.test": {"choose": "label:Alice P-256"},
        "rsa.test": {"choose": "label:Alice RSA-2048"},
        "ed.test": {"choose": "label:Alice Ed25519"}}})
    daemon = Daemon(home, picker).start()
    data = base64.b64encode(DATA).decode()
    digest = base64.b64encode(hashlib.sha256(DATA).digest()).decode()

    ec_client = Client(home.socket)
    reply = ec_client.call("Select", {"host": "ec.test", "port": 443})
    check_equal(reply["parameters"]["id"], p256, "ec.test identity")
    verify(home, "p256", signature(sign(ec_client, p256,
                                        "ecdsa_secp256r1_sha256", data=data),
                                   "ECDSA over data"), "-sha256")
    verify(home, "p256", signature(sign(ec_client, p256,
                                        "ecdsa_secp256r1_sha256",
                                        digest=digest),
                                   "ECDSA over a digest"), "-sha256")

    # Not received on this connection, or not on any.
    stranger = Client(home.socket)
    reply = sign(stranger, p256, "ecdsa_secp256r1_sha256", data=data)
    check_equal(reply.get("error"), "org.certpick.Agent.NotPermitted",
                "another connection")
    check_equal(reply["parameters"], {"id": p256}, "NotPermitted names it")
    reply = sign(ec_client, rsa, "rsa_pss_rsae_sha256", data=data)
    check_equal(reply.get("error"), "org.certpick.Agent.NotPermitted",
                "an identity the connection did not receive")
    daemon.wait_for_log("may not sign with identity")
    stranger.close()

    # Schemes that do not fit, and bad inputs.
    for algorithm in ("rsa_pss_rsae_sha256", "ed25519", "no_such_scheme"):
        reply = sign(ec_client, p256, algorithm, data=data)
        check_equal(reply.get("error"),
                    "org.certpick.Agent.AlgorithmNotSupported", algorithm)
        check_equal(reply["parameters"], {"algorithm": algorithm,
                                          "key_type": "EC"},
                    f"AlgorithmNotSupported parameters for {algorithm}")
    bad_inputs = [({"data": data, "digest": digest}, "digest"),
                  ({}, "data"),
                  ({"digest": base64.b64encode(b"short").decode()}, "digest"),
                  ({"data": "not base64!"}, "data")]
    for input_, parameter in bad_inputs:
        reply = sign(ec_client, p256, "ecdsa_secp256r1_sha256", **input_)
        check_equal(reply.get("error"), "org.varlink.service.InvalidParameter",
                    f"bad input {input_}")
        check_equal(reply["parameters"]["parameter"], parameter,
                    f"parameter named for {input_}")
    ec_client.close()

    rsa_client = Client(home.socket)
    rsa_client.call("Select", {"host": "rsa.test", "port": 443})
    verify(home, "rsa2048", signature(sign(rsa_client, rsa,
                                           "rsa_pss_rsae_sha256", data=data),
                                      "RSA-PSS"),
           "-sha256", "-sigopt", "rsa_padding_mode:pss", "-sigopt",
           "rsa_pss_saltlen:32")
    verify(home, "rsa2048", signature(sign(rsa_client, rsa,
                                           "rsa_pkcs1_sha256", digest=digest),
                                      "RSA PKCS #1 over a digest"),
           "-sha256")
    rsa_client.close()

    ed_client = Client(home.socket)
    ed_client.call("Select", {"host": "ed.test", "port": 443})
    verify(home, "ed25519", signature(sign(ed_client, ed, "ed25519",
                                           data=data), "Ed25519"), "pkeyutl")
    reply = sign(ed_client, ed, "ed25519", digest=digest)
    check_equal(reply.get("error"), "org.varlink.service.InvalidParameter",
                "Ed25519 over a digest")
    ed_client.close()

    log = daemon.log()
    check(data not in log and digest not in log, "inputs are not logged")
    daemon.stop()


run(test)
