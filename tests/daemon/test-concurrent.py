#!/usr/bin/python3
"""100 clients ask at once, each for its own server: each gets the identity
chosen for its server and no other, through one dialog at a time.
Identical requests share one dialog, and its answer serves all of them."""

import threading

from daemontest import (Client, Daemon, Picker, check, check_equal,
                        name_der_base64, pki, run, wait_until)

CLIENTS = 100
LABELS = ["Alice P-256", "Alice RSA-2048", "Alice Ed25519", "Alice P-384"]
SHARED = 5


def test(home):
    for name in ("p256", "rsa2048", "ed25519", "p384"):
        home.import_identity(name)
    by_host = {f"h{i}.test": {"choose": "label:" + LABELS[i % len(LABELS)]}
               for i in range(CLIENTS)}
    by_host["shared.test"] = {"choose": "label:Alice P-384", "delay": 0.5}
    picker = Picker(home, {"by_host": by_host})
    daemon = Daemon(home, picker).start()

    results = [None] * CLIENTS
    errors = []

    def ask(index):
        try:
            client = Client(home.socket, timeout=60)
            reply = client.call("Select", {"host": f"h{index}.test",
                                           "port": 443})
            # The same connection may sign only with what it received.
            results[index] = (reply, client.call("ListDecisions"))
            client.close()
        except Exception as error:  # reported below, with the index
            errors.append((index, repr(error)))

    threads = [threading.Thread(target=ask, args=(i,))
               for i in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    check_equal(errors, [], "client errors")
    for index, (reply, _) in enumerate(results):
        check("error" not in reply, f"client {index}: {reply}")
        check_equal(reply["parameters"]["label"],
                    LABELS[index % len(LABELS)], f"client {index}'s answer")

    # The picker gets the last Close after the clients got their answers.
    wait_until(lambda: len(picker.calls("Close")) == CLIENTS, 10,
               "the last Close")
    methods = [c["method"].split(".")[-1] for c in picker.calls()]
    check_equal(methods, ["Choose", "Close"] * CLIENTS,
                "one dialog at a time: each Choose closed before the next")
    numbers = [c["parameters"]["dialog"] for c in picker.calls("Choose")]
    check_equal(len(set(numbers)), CLIENTS, "a dialog number per request")

    # Identical requests (same server and CA names) share one dialog.
    ca = [name_der_base64(pki("ca", "root.pem"))]
    shared = []
    for _ in range(SHARED):
        client = Client(home.socket)
        client.send("org.certpick.Agent.Select",
                    {"host": "shared.test", "port": 443, "ca_names": ca})
        shared.append(client)
    replies = [client.receive() for client in shared]
    for reply in replies:
        check("error" not in reply, f"shared request: {reply}")
        check_equal(reply["parameters"]["label"], "Alice P-384",
                    "shared answer")
    check_equal(len(picker.chooses("shared.test")), 1,
                "one dialog for identical requests")
    # Each of them may sign with it: the grant went to every connection.
    for client in shared:
        reply = client.call("Sign", {
            "id": replies[0]["parameters"]["id"],
            "algorithm": "ecdsa_secp384r1_sha384", "data": "aGVsbG8="})
        check("signature" in reply.get("parameters", {}),
              f"shared requester signs: {reply}")
        client.close()
    daemon.stop()


run(test)
