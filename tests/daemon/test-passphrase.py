#!/usr/bin/python3
"""A locked key is unlocked during Select through the picker: a wrong
passphrase brings the same dialog back with the tries left, the right one
succeeds, and Sign then works without asking anybody. Too many wrong
passphrases cancel the request. Passphrases never reach the log."""

import base64

from daemontest import Client, Daemon, Picker, check, check_equal, pki, run

PASSWORD = open(pki("passwords", "plain")).read()
WRONG = ["wrong passphrase one", "wrong passphrase two",
         "wrong passphrase three"]


def import_locked(home):
    return home.import_identity(
        "p384-locked", pki("formats", "p384.pem"), "--key",
        pki("formats", "p384-traditional-encrypted.key"), "--password-file",
        pki("passwords", "plain"))


def locked(client, identity_id):
    identities = client.call("ListIdentities")["parameters"]["identities"]
    return [i["locked"] for i in identities if i["id"] == identity_id][0]


def test(home):
    key_id = import_locked(home)
    picker = Picker(home, {"actions": [
        {"choose": "label:Alice P-384", "passphrase": WRONG[0]},
        {"choose": "preselected", "passphrase": PASSWORD,
         "remember": "always"}]})
    daemon = Daemon(home, picker).start()

    client = Client(home.socket)
    check_equal(locked(client, key_id), True, "locked before Select")
    reply = client.call("Select", {"host": "vault.test", "port": 443})
    check("error" not in reply, f"Select: {reply}")
    check_equal(reply["parameters"]["id"], key_id, "the locked identity")

    first, second = picker.chooses()
    check_equal(first["parameters"].get("retry"), None, "first Choose")
    check_equal(second["parameters"]["dialog"], first["parameters"]["dialog"],
                "the retry updates the same dialog")
    check_equal(second["parameters"]["retry"],
                {"id": key_id, "reason": "wrong-passphrase", "tries_left": 2},
                "retry member")
    check_equal(second["parameters"]["preselected"], key_id,
                "the identity stays selected")
    picker.wait_for_close("answered")
    check_equal(len(picker.calls("Close")), 1, "closed once, after success")

    # Signing needs no person now.
    sign = client.call("Sign", {"id": key_id,
                                "algorithm": "ecdsa_secp384r1_sha384",
                                "data": base64.b64encode(b"x").decode()})
    check("signature" in sign.get("parameters", {}), f"Sign: {sign}")
    check_equal(locked(client, key_id), False, "unlocked after Select")
    client.close()
    daemon.wait_for_log("wrong passphrase for identity 'Alice P-384'")
    daemon.stop()

    # After a restart the key is locked again. The remembered decision
    # still goes through the picker, with the identity preselected, for its
    # passphrase. Three wrong passphrases cancel the request.
    picker.set_script({"actions": [
        {"choose": "preselected", "passphrase": WRONG[0]},
        {"choose": "preselected", "passphrase": WRONG[1]},
        {"choose": "preselected", "passphrase": WRONG[2]}]})
    daemon.start()
    client = Client(home.socket)
    reply = client.call("Select", {"host": "vault.test", "port": 443})
    check_equal(reply.get("error"), "org.certpick.Agent.Cancelled",
                "three wrong passphrases")
    check_equal(reply["parameters"],
                {"reason": "wrong passphrase entered too often"},
                "Cancelled reason")
    retries = [c["parameters"] for c in picker.chooses()[2:]]
    check_equal(len(retries), 3, "three Choose calls")
    check_equal(retries[0]["preselected"], key_id,
                "the remembered identity is preselected")
    check_equal([r.get("retry", {}).get("tries_left") for r in retries],
                [None, 2, 1], "tries left")
    picker.wait_for_close("failed")
    sign = client.call("Sign", {"id": key_id,
                                "algorithm": "ecdsa_secp384r1_sha384",
                                "data": "eA=="})
    check_equal(sign.get("error"), "org.certpick.Agent.NotPermitted",
                "no identity was granted")
    client.close()
    daemon.stop()

    log = daemon.log()
    for secret in [PASSWORD] + WRONG:
        check(secret not in log, "no passphrase in the log")


run(test)
