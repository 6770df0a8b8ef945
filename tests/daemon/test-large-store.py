#!/usr/bin/python3
"""A store too large for one Choose call still gets a dialog. certpickd
lists the best eligible identities that fit in CP_CHOOSE_CALL_MAX bytes
and leaves out the excluded ones first. It keeps the preselected identity
and sends the picker how many identities it left out."""

import datetime
import hashlib
import os

from daemontest import Client, Daemon, Picker, check, check_equal, run

# Each identity below takes 876 bytes of the call, so without a bound the
# 1,500 of them make a Choose call of about 1.3 MB, past the 1 MiB message
# limit (VL_MESSAGE_MAX).
ELIGIBLE = 1200
EXPIRED = 300
CHOOSE_CALL_MAX = 768 * 1024

try:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
except ImportError:
    x509 = None


def name(common_name, unit=None):
    attributes = [x509.NameAttribute(NameOID.ORGANIZATION_NAME,
                                     "Example Large Store Ltd")]
    if unit:
        attributes.append(x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME,
                                             unit))
    attributes.append(x509.NameAttribute(NameOID.COMMON_NAME, common_name))
    return x509.Name(attributes)


def pem(certificate):
    return certificate.public_bytes(serialization.Encoding.PEM).decode()


def write_store(store):
    """Writes ELIGIBLE + EXPIRED identity files, in the store format, that
    share one key, and returns the ids of the eligible ones, best first,
    and of the two that the policy fits, better one first."""
    now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = name("Large Store Test CA")
    ca = (x509.CertificateBuilder().subject_name(ca_name)
          .issuer_name(ca_name).public_key(ca_key.public_key())
          .serial_number(1).not_valid_before(now - datetime.timedelta(1))
          .not_valid_after(now + datetime.timedelta(4000))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None),
                         critical=True)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    key_pem = key.private_bytes(serialization.Encoding.PEM,
                                serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode()
    usage = x509.KeyUsage(True, False, False, False, False, False, False,
                          False, False)
    extended = x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH])

    os.makedirs(store, mode=0o700)
    eligible = []
    policy_fits = []
    for i in range(ELIGIBLE + EXPIRED):
        expired = i >= ELIGIBLE
        # The later notAfter ranks first, so identity 0 ranks last.
        start = now - datetime.timedelta(days=400 if expired else 1)
        end = (now - datetime.timedelta(days=1 + i - ELIGIBLE) if expired
               else now + datetime.timedelta(days=365 + i))
        unit = "Kept" if i < 2 else None
        certificate = (x509.CertificateBuilder()
                       .subject_name(name(f"Large store user {i:04}", unit))
                       .issuer_name(ca_name).public_key(key.public_key())
                       .serial_number(1000 + i).not_valid_before(start)
                       .not_valid_after(end)
                       .add_extension(usage, critical=True)
                       .add_extension(extended, critical=False)
                       .sign(ca_key, hashes.SHA256()))
        der = certificate.public_bytes(serialization.Encoding.DER)
        identity_id = hashlib.sha256(der).hexdigest()
        path = os.path.join(store, identity_id + ".pem")
        with open(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600), "w") as f:
            f.write("certpick-identity: 1\n"
                    f"label: Large store user {i:04}\n"
                    "source: /generated/by/test-large-store.py\n"
                    f"imported: {now:%Y-%m-%dT%H:%M:%SZ}\n")
            f.write(pem(certificate) + pem(ca) + key_pem)
        if not expired:
            eligible.insert(0, identity_id)
        if unit:
            policy_fits.insert(0, identity_id)
    return eligible, policy_fits


def select(home, host):
    client = Client(home.socket, timeout=60)
    reply = client.call("Select", {"host": host, "port": 443})
    client.close()
    return reply


def check_call(choose):
    """Checks the size, the order and the counts of one Choose call, and
    returns its ids."""
    parameters = choose["parameters"]
    candidates = parameters["candidates"]
    ids = [c["id"] for c in candidates]
    listed_eligible = [c["id"] for c in candidates if c["eligible"]]
    check(choose["size"] <= CHOOSE_CALL_MAX,
          f"the Choose call has {choose['size']} bytes, over "
          f"{CHOOSE_CALL_MAX}")
    check(choose["size"] > CHOOSE_CALL_MAX - 4096,
          f"the Choose call has only {choose['size']} bytes")
    check_equal(len(listed_eligible), len(candidates),
                "excluded candidates listed while eligible ones are left "
                "out")
    check_equal(parameters.get("omitted_excluded"), EXPIRED,
                "omitted_excluded")
    check_equal(parameters.get("omitted_eligible"),
                ELIGIBLE - len(listed_eligible), "omitted_eligible")
    check(parameters["omitted_eligible"] > 0, "no eligible identity left "
          "out, so the test no longer needs the bound")
    check_equal(len(set(ids)), len(ids), "candidate ids are unique")
    return ids


def test(home):
    if x509 is None:
        print("python3-cryptography is missing: run .ci/install-deps")
        raise SystemExit(1)
    eligible, policy_fits = write_store(home.store)
    policy = {"AutoSelectCertificateForUrls": [
        {"pattern": "kept.test", "filter": {"SUBJECT": {"OU": "Kept"}}}]}
    picker = Picker(home, {"by_host": {
        "kept.test": {"choose": "preselected"},
        "best.test": {"choose": "first-eligible", "remember": "session"},
    }})
    daemon = Daemon(home, picker, policy=policy, timeout=120).start()

    # The policy fits the two lowest-ranked identities, so the better of
    # them is preselected and listed although it ranks last but one.
    reply = select(home, "kept.test")
    check("error" not in reply, f"Select for kept.test failed: {reply}")
    check_equal(reply["parameters"]["id"], policy_fits[0],
                "chosen identity")
    check_equal(reply["parameters"]["decided_by"], "picker", "decided_by")
    choose = picker.chooses("kept.test")[0]
    check_equal(choose["parameters"]["preselected"], policy_fits[0],
                "preselected")
    ids = check_call(choose)
    check_equal(ids[-1], policy_fits[0],
                "the preselected identity, listed last")
    check_equal(ids[:-1], eligible[:len(ids) - 1],
                "the best eligible identities, best first")
    picker.wait_for_close("answered")
    daemon.wait_for_log(f"leaves out {ELIGIBLE - len(ids)} eligible and "
                        f"{EXPIRED} excluded ones")

    reply = select(home, "best.test")
    check("error" not in reply, f"Select for best.test failed: {reply}")
    check_equal(reply["parameters"]["id"], eligible[0], "chosen identity")
    choose = picker.chooses("best.test")[0]
    check_equal(choose["parameters"].get("preselected"), None, "preselected")
    ids = check_call(choose)
    check_equal(ids, eligible[:len(ids)],
                "the best eligible identities, best first")
    print(f"Choose call: {choose['size']} bytes, {len(ids)} of "
          f"{ELIGIBLE + EXPIRED} identities listed")
    daemon.stop()


run(test)
