#!/usr/bin/python3
"""certpickd's Varlink service: GetInfo, GetInterfaceDescription, the
standard errors, parameter checks against the interface, oneway calls and
pipelined calls answered in order."""

import os

from daemontest import (AGENT, Client, Daemon, Picker, check, check_equal,
                        error_of, name_der_base64, pki, run)

INVALID = "org.varlink.service.InvalidParameter"


def check_invalid(client, method, parameters, expected):
    reply = client.call(method, parameters)
    check_equal(error_of(reply), INVALID, f"{method} {parameters}")
    check_equal(reply["parameters"]["parameter"], expected,
                f"parameter named for {parameters}")


def test(home):
    home.import_identity("p256")
    daemon = Daemon(home, Picker(home)).start()
    client = Client(home.socket)

    info = client.call("org.varlink.service.GetInfo")
    check_equal(info["parameters"]["product"], "certpickd", "product")
    check_equal(info["parameters"]["interfaces"],
                ["org.varlink.service", "org.certpick.Agent"], "interfaces")

    root = os.environ["CERTPICK_SOURCE_ROOT"]
    with open(os.path.join(root, "proto", "org.certpick.Agent.varlink")) as f:
        expected = f.read()
    reply = client.call("org.varlink.service.GetInterfaceDescription",
                        {"interface": "org.certpick.Agent"})
    check_equal(reply["parameters"]["description"], expected,
                "description of org.certpick.Agent")
    reply = client.call("org.varlink.service.GetInterfaceDescription",
                        {"interface": "org.varlink.service"})
    check("method GetInfo()" in reply["parameters"]["description"],
          "org.varlink.service describes GetInfo")
    reply = client.call("org.varlink.service.GetInterfaceDescription",
                        {"interface": "org.example.Nothing"})
    check_equal(error_of(reply), "org.varlink.service.InterfaceNotFound",
                "unknown interface description")
    check_equal(reply["parameters"], {"interface": "org.example.Nothing"},
                "InterfaceNotFound parameters")

    reply = client.call(AGENT + "Bogus")
    check_equal(error_of(reply), "org.varlink.service.MethodNotFound",
                "unknown method")
    check_equal(reply["parameters"], {"method": AGENT + "Bogus"},
                "MethodNotFound parameters")
    # An empty method name, in an interface that exists.
    reply = client.call(AGENT)
    check_equal(error_of(reply), "org.varlink.service.MethodNotFound",
                "empty method name")
    check_equal(reply["parameters"], {"method": AGENT},
                "MethodNotFound names the call")
    reply = client.call("org.example.Other.")
    check_equal(error_of(reply), "org.varlink.service.InterfaceNotFound",
                "empty method name in an unknown interface")
    reply = client.call("org.example.Other.Method")
    check_equal(error_of(reply), "org.varlink.service.InterfaceNotFound",
                "unknown interface")
    check_equal(reply["parameters"], {"interface": "org.example.Other"},
                "InterfaceNotFound names the interface")

    ca = name_der_base64(pki("ca", "root.pem"))
    check_invalid(client, "Select", {"port": 443}, "host")
    check_invalid(client, "Select", {"host": "a.test", "port": "443"},
                  "port")
    check_invalid(client, "Select", {"host": "a.test", "port": 0}, "port")
    check_invalid(client, "Select", {"host": "a.test", "port": 70000},
                  "port")
    check_invalid(client, "Select", {"host": "a.test", "port": 1,
                                     "bogus": 1}, "bogus")
    check_invalid(client, "Select", {"host": "a.test", "port": 1,
                                     "ca_names": [ca, "!!"]}, "ca_names[1]")
    check_invalid(client, "Select", {"host": "a.test", "port": 1,
                                     "ca_names": [ca, 5]}, "ca_names[1]")
    check_invalid(client, "Select", {"host": "a.test", "port": 1,
                                     "ca_names": ["AAAA"]}, "ca_names[0]")
    check_invalid(client, "Select", {"host": "a b", "port": 1}, "host")
    check_invalid(client, "Select", {"host": "", "port": 1}, "host")
    check_invalid(client, "Select", {"host": "a.test", "port": 1,
                                     "tls_version": "TLSv9"}, "tls_version")
    check_invalid(client, "Select", {"host": "a.test", "port": 1,
                                     "server_certificate": "AAAA"},
                  "server_certificate")
    check_invalid(client, "Select", {"host": "a.test", "port": 1,
                                     "parent_window": "x" * 300},
                  "parent_window")
    check_invalid(client, "ForgetDecisions", {}, "host")
    check_invalid(client, "ForgetDecisions", {"all": True, "host": "a"},
                  "all")
    check_invalid(client, "Match", {"ca_names": "x"}, "ca_names")

    reply = client.call("WatchDecisions")
    check_equal(error_of(reply), "org.varlink.service.ExpectedMore",
                "WatchDecisions without more")

    # A oneway call gets no reply, so the next reply is GetInfo's.
    client.send(AGENT + "ListDecisions", oneway=True)
    reply = client.call("org.varlink.service.GetInfo")
    check("vendor" in reply["parameters"], "oneway call answered nothing")

    # Pipelined calls are answered in the order they were sent.
    client.send(AGENT + "ListIdentities")
    client.send("org.varlink.service.GetInfo")
    client.send(AGENT + "ListDecisions")
    first, second, third = (client.receive() for _ in range(3))
    check("identities" in first["parameters"], "first reply in order")
    check("vendor" in second["parameters"], "second reply in order")
    check("decisions" in third["parameters"], "third reply in order")

    # Match returns every identity with its verdict.
    reply = client.call("Match", {"ca_names": [ca]})
    verdicts = reply["parameters"]["verdicts"]
    check_equal(reply["parameters"]["ca_names_given"], True,
                "ca_names_given")
    check_equal(len(verdicts), 1, "verdict count")
    check_equal(verdicts[0]["eligible"], True,
                "p256 chains to the root through the intermediate")

    client.close()
    daemon.stop()
    check("error:" not in daemon.log(), "no errors in the log")


run(test)
