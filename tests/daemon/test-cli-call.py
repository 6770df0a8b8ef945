#!/usr/bin/python3
"""certpick call, the way in for shell scripts: it sends one call to
certpickd and prints the reply's parameters as JSON, or the error as
{"error": ..., "parameters": ...} with exit status 3. PARAMETERS that are
not a JSON object are a usage error that shows the value."""

import json
import os
import re
import subprocess
import sys
import tempfile

from daemontest import Daemon, Picker, check, check_equal, run


def call(home, *args, stdin=None):
    return subprocess.run([os.environ["CERTPICK_CLI"], "call", *args],
                          env=home.env(), input=stdin, capture_output=True,
                          text=True, timeout=30)


def shell_example():
    """The shell example of protocol.md, as a reader would paste it."""
    path = os.path.join(os.environ["CERTPICK_SOURCE_ROOT"], "data", "doc",
                        "protocol.md")
    with open(path, encoding="utf-8") as f:
        text = f.read()
    match = re.search(r"```sh\n(json_member\(\) \{.*?)```", text, re.S)
    check(match, "protocol.md has the shell example of certpick call")
    return match.group(1)


def run_example(home, script, **extra_env):
    """Runs script with sh, with certpick and python3 first on PATH."""
    with tempfile.TemporaryDirectory() as bin_dir:
        os.symlink(os.environ["CERTPICK_CLI"],
                   os.path.join(bin_dir, "certpick"))
        os.symlink(sys.executable, os.path.join(bin_dir, "python3"))
        env = home.env()
        env["PATH"] = bin_dir + os.pathsep + env.get("PATH", "")
        env.update(extra_env)
        return subprocess.run(["sh", "-c", script], env=env,
                              capture_output=True, text=True, timeout=30)


def test_shell_example(home, daemon):
    """The example prints the label, the error's name, or the failure."""
    script = shell_example()
    result = run_example(home, script)
    check_equal(result.stdout, "the person chose: Alice RSA-2048\n",
                f"the example's output for a choice: {result.stderr!r}")
    result = run_example(home, script.replace("intranet.example.com",
                                              "declined.test"))
    check_equal(result.stdout,
                "no certificate: org.certpick.Agent.NoCertificate\n",
                f"the example's output for a decline: {result.stderr!r}")
    daemon.stop()
    result = run_example(home, script, CERTPICKD="/nonexistent/certpickd")
    check("failed with exit status 1" in result.stderr,
          f"the example reports an unreachable certpickd: {result!r}")


def test(home):
    home.import_identity("p256")
    rsa = home.import_identity("rsa2048")
    picker = Picker(home, {
        "by_host": {"declined.test": {"choose": None}},
        "default": {"choose": "label:Alice RSA-2048"}})
    daemon = Daemon(home, picker).start()

    result = call(home, "org.varlink.service.GetInfo")
    check_equal(result.returncode, 0, f"GetInfo exit status: "
                f"{result.stderr!r}")
    info = json.loads(result.stdout)
    check("org.certpick.Agent" in info["interfaces"],
          f"GetInfo lists the agent's interface: {info}")

    result = call(home, "Select", '{"host": "Shell.TEST", "port": 443}')
    check_equal(result.returncode, 0, f"Select exit status: "
                f"{result.stderr!r}")
    chosen = json.loads(result.stdout)
    check_equal(chosen["id"], rsa, "the id of the identity chosen")
    check_equal(chosen["decided_by"], "picker", "decided_by")
    check_equal(picker.chooses()[0]["parameters"]["server"]["host"],
                "shell.test", "the host the picker showed")

    # The same call with the parameters on standard input.
    result = call(home, "Select", "-",
                  stdin='{"host": "declined.test", "port": 8443}')
    check_equal(result.returncode, 3, f"NoCertificate exit status: "
                f"{result.stderr!r}")
    error = json.loads(result.stdout)
    check_equal(error["error"], "org.certpick.Agent.NoCertificate",
                "the error printed on stdout")
    check_equal(error["parameters"].get("reason"), "declined",
                "the reason of the error")

    result = call(home, "Select", '{"host": "a.test", "port": 443')
    check_equal(result.returncode, 2, "exit status for invalid JSON")
    check("'{\"host\": \"a.test\", \"port\": 443' is not JSON"
          in result.stderr, f"the value is named: {result.stderr!r}")
    result = call(home, "Select", '["a.test", 443]')
    check_equal(result.returncode, 2, "exit status for a list")
    check("must be a JSON object" in result.stderr,
          f"says an object is needed: {result.stderr!r}")
    result = call(home, "Select", '{"host": 7}')
    check_equal(result.returncode, 3, "exit status for a wrong type")
    check_equal(json.loads(result.stdout)["error"],
                "org.varlink.service.InvalidParameter",
                "certpickd's error for a wrong type")
    result = call(home, "NoSuchMethod")
    check_equal(result.returncode, 3, "exit status for an unknown method")
    check_equal(json.loads(result.stdout)["error"],
                "org.varlink.service.MethodNotFound",
                "certpickd's error for an unknown method")
    result = call(home)
    check_equal(result.returncode, 2, "exit status without METHOD")
    check("METHOD to call is missing" in result.stderr,
          f"says what is missing: {result.stderr!r}")
    for method in ("WatchDecisions", "org.certpick.Agent.WatchDecisions"):
        result = call(home, method)
        check_equal(result.returncode, 2, f"exit status for {method}")
        check("cannot call WatchDecisions" in result.stderr,
              f"says why {method} is refused: {result.stderr!r}")
        check_equal(result.stdout, "", f"no reply printed for {method}")
    test_shell_example(home, daemon)


run(test)
