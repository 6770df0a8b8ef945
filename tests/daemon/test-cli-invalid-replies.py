#!/usr/bin/python3
"""certpick decisions and forget check certpickd's replies against
org.certpick.Agent: a reply that lacks a member or has one of the wrong
type, from a server that only pretends to be certpickd, is an error that
names the member, not a crash. Labels and hosts are printed without
control characters. An invalid host that certpickd rejects is named."""

import os

from daemontest import Daemon, FakeAgent, Picker, check, check_equal, run

CREATED = "2024-01-01T00:00:00Z"


def decision(**members):
    base = {"host": "a.test", "port": 443, "id": None, "label": None,
            "scope": "session", "created": CREATED}
    base.update(members)
    return base


def invalid_replies(home, replies):
    cases = [
        ("decisions", {"parameters": {"decisions": [
            {k: v for k, v in decision().items() if k != "host"}]}},
         "'decisions[0].host'"),
        ("decisions", {"parameters": {"decisions": [decision(port="443")]}},
         "'decisions[0].port'"),
        ("decisions", {"parameters": {}}, "'decisions'"),
        ("forget", {"parameters": {"forgotten": "many"}}, "'forgotten'"),
        ("forget", {"error": "org.certpick.Agent.NoSuchError",
                    "parameters": {}}, "unknown error"),
        ("forget", {"error": "org.certpick.Agent.LimitReached",
                    "parameters": {"limit": 5}}, "'limit'"),
    ]
    for command, reply, named in cases:
        replies.append(reply)
        args = [command] + (["a.test"] if command == "forget" else [])
        result = home.cli(*args, check_status=False)
        what = f"certpick {command} given {reply}"
        check_equal(result.returncode, 1, f"{what}: exit status")
        check("invalid reply" in result.stderr or
              "unknown error" in result.stderr or
              "wrong type" in result.stderr,
              f"{what}: says the reply is invalid: {result.stderr!r}")
        check(named in result.stderr, f"{what}: names {named}: "
              f"{result.stderr!r}")


def control_characters(home, replies):
    replies.append({"parameters": {"decisions": [
        decision(host="a.test\u001b]0;title\u0007", id="a" * 64,
                 label="\u001b[31mred\u001b[0m", scope="always")]}})
    result = home.cli("decisions")
    check_equal(result.returncode, 0, "certpick decisions exit status")
    check("\u001b" not in result.stdout and "\u0007" not in result.stdout,
          f"no control characters printed: {result.stdout!r}")
    check("?[31mred?[0m" in result.stdout, f"the label: {result.stdout!r}")


def rejected_host(home):
    daemon = Daemon(home, Picker(home)).start()
    result = home.cli("forget", "a..b", check_status=False)
    check_equal(result.returncode, 1, "forget a..b: exit status")
    check("invalid host 'a..b'" in result.stderr,
          f"forget a..b names the host: {result.stderr!r}")
    daemon.stop()


def test(home):
    replies = []
    agent = FakeAgent(home.socket, lambda call: replies.pop(0))
    invalid_replies(home, replies)
    control_characters(home, replies)
    agent.close()
    os.unlink(home.socket)
    rejected_host(home)


run(test)
