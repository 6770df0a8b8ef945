#!/usr/bin/python3
"""A policy file that is not a regular file (a FIFO, a directory) or is
larger than the maximum stops certpickd from starting at once. The message
names the file and the reason, and certpickd neither waits for a writer of
the FIFO nor reads without bound. A pattern of "[*.]" with no name after
it is reported as a missing host."""

import json
import os
import subprocess

from daemontest import Daemon, check, check_equal, run

# POLICY_FILE_MAX in daemon/policy.c.
POLICY_FILE_MAX = 4 * 1024 * 1024


def start_with_policy(home, path):
    daemon = Daemon(home)
    command = daemon.command()
    command[command.index("--policy") + 1] = path
    try:
        return subprocess.run(command, env=daemon.environment(),
                              capture_output=True, text=True, timeout=10)
    except subprocess.TimeoutExpired:
        raise AssertionError(f"certpickd hung on the policy file {path}")


def test(home):
    fifo = os.path.join(home.root, "policy-fifo.json")
    os.mkfifo(fifo)
    folder = os.path.join(home.root, "policy-folder")
    os.mkdir(folder)
    large = os.path.join(home.root, "policy-large.json")
    with open(large, "w") as f:
        f.truncate(POLICY_FILE_MAX + 1)

    cases = [(fifo, "it is not a regular file"),
             (folder, "it is not a regular file"),
             (large, "it is larger than the maximum of 4 MiB")]
    for path, reason in cases:
        result = start_with_policy(home, path)
        check_equal(result.returncode, 1, f"exit status with {path}")
        check(f"cannot load the policy file '{path}': {reason}"
              in result.stderr,
              f"message names {path} and why: {result.stderr}")

    policy = {"AutoSelectCertificateForUrls": [
        json.dumps({"pattern": pattern, "filter": {}})
        for pattern in ("[*.]", "https://[*.]:443")]}
    # Daemon writes its policy file only when none exists.
    os.unlink(os.path.join(home.root, "policy.json"))
    daemon = Daemon(home, policy=policy).start()
    log = daemon.log()
    for index, pattern in enumerate(("[*.]", "https://[*.]:443")):
        check(f"ignoring entry {index}, pattern '{pattern}': the host is "
              "missing" in log,
              f"entry {index} is reported as a missing host: {log}")
    daemon.stop()


run(test)
