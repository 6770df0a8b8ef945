#!/usr/bin/python3
"""What the picker's answers turn into: a dismissed dialog cancels the
request, a picker without a display or that picks an identity it was not
offered fails it, and an unknown remember scope counts as "once"."""

from daemontest import (Client, Daemon, Picker, check, check_equal,
                        name_der_base64, pki, run)


def select(home, host, **extra):
    client = Client(home.socket)
    reply = client.call("Select", {"host": host, "port": 443, **extra})
    client.close()
    return reply


def test(home):
    home.import_identity("p256")
    other = home.import_identity("other-issuer")
    picker = Picker(home, {"by_host": {
        "dismiss.test": {"dismiss": True},
        "nodisplay.test": {"error": "DisplayUnavailable"},
        "ineligible.test": {"choose": other},
        "odd.test": {"remember": "forever"},
    }})
    daemon = Daemon(home, picker).start()

    reply = select(home, "dismiss.test")
    check_equal(reply, {"error": "org.certpick.Agent.Cancelled",
                        "parameters": {"reason": "dismissed"}},
                "dismissed dialog")

    reply = select(home, "nodisplay.test")
    check_equal(reply.get("error"), "org.certpick.Agent.PickerFailed",
                "no display")
    check(reply["parameters"]["reason"].startswith("no display"),
          f"reason: {reply['parameters']}")
    check("restart certpickd with DISPLAY" in reply["parameters"]["reason"],
          f"the reason says what to do: {reply['parameters']}")
    picker.wait_for_close("failed")

    # The server accepts only the intermediate's identities, so the other
    # issuer's is offered as excluded and may not be chosen.
    inter = [name_der_base64(pki("ca", "inter.pem"))]
    reply = select(home, "ineligible.test", ca_names=inter)
    check_equal(reply.get("error"), "org.certpick.Agent.PickerFailed",
                "an identity that is not eligible")
    check("not eligible" in reply["parameters"]["reason"],
          f"reason: {reply['parameters']}")

    reply = select(home, "odd.test")
    check_equal(reply["parameters"]["decided_by"], "picker", "odd.test")
    client = Client(home.socket)
    decisions = client.call("ListDecisions")["parameters"]["decisions"]
    check_equal(decisions, [], "an unknown scope remembers nothing")
    client.close()
    daemon.wait_for_log("treating it as 'once'")

    # The same picker process served every dialog.
    check_equal(len(picker.starts()), 1, "one picker process")
    daemon.stop()


run(test)
