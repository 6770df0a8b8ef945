#!/usr/bin/python3
"""An identity whose certificate carries thousands of email addresses, as
an imported file may, still gets a prompt dialog. The picker's Choose call
lists the first 64 different addresses of the subject and the
subjectAltName extension. OpenSSL 3.0's X509_get1_email, which listed them
before, took 6 seconds for 20,000 addresses, and certpickd's event loop
waited for it at every dialog."""

import datetime
import os
import time

from daemontest import Client, Daemon, Picker, check, check_equal, run

try:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
except ImportError:
    x509 = None

ADDRESSES = 20000
# CANDIDATE_EMAILS_MAX in daemon/identity-json.c.
LISTED_MAX = 64


def write_identity(path):
    """Writes a PEM bundle of a self-signed client certificate with a
    subject address and ADDRESSES subjectAltName addresses (the first one
    repeated), and its key."""
    now = datetime.datetime.now(datetime.timezone.utc)
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([
        x509.NameAttribute(NameOID.COMMON_NAME, "Many Addresses"),
        x509.NameAttribute(NameOID.EMAIL_ADDRESS, "subject@example.com")])
    addresses = ["subject@example.com"] + [
        f"user{i}@example.com" for i in range(ADDRESSES - 1)]
    certificate = (
        x509.CertificateBuilder().subject_name(subject)
        .issuer_name(subject).public_key(key.public_key())
        .serial_number(7).not_valid_before(now - datetime.timedelta(1))
        .not_valid_after(now + datetime.timedelta(30))
        .add_extension(x509.SubjectAlternativeName(
            [x509.RFC822Name(a) for a in addresses]), critical=False)
        .add_extension(x509.ExtendedKeyUsage(
            [ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        .sign(key, hashes.SHA256()))
    with open(path, "wb") as f:
        f.write(certificate.public_bytes(serialization.Encoding.PEM))
        f.write(key.private_bytes(serialization.Encoding.PEM,
                                  serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption()))


def test(home):
    if x509 is None:
        print("python3-cryptography is missing: run .ci/install-deps")
        raise SystemExit(1)
    bundle = os.path.join(home.root, "many-addresses.pem")
    write_identity(bundle)
    many = home.import_identity("many", bundle)
    picker = Picker(home, {"default": {"choose": "label:Many Addresses"}})
    daemon = Daemon(home, picker).start()

    client = Client(home.socket, timeout=60)
    started = time.monotonic()
    reply = client.call("Select", {"host": "emails.test", "port": 443})
    seconds = time.monotonic() - started
    client.close()
    check("error" not in reply, f"Select failed: {reply}")
    check_equal(reply["parameters"]["id"], many, "chosen identity")

    candidates = picker.chooses("emails.test")[0]["parameters"]["candidates"]
    emails = candidates[0]["emails"]
    check_equal(len(emails), LISTED_MAX, "addresses listed")
    check_equal(emails[:3], ["subject@example.com", "user0@example.com",
                             "user1@example.com"],
                "the subject's address first, then the extension's, "
                "without the repeated one")
    # The picker is a Python process started for this call.
    check(seconds < 5, f"Select took {seconds:.1f} s")
    daemon.stop()


run(test)
