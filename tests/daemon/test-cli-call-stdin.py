#!/usr/bin/python3
"""certpick call with PARAMETERS "-" reads the whole of standard input. A
NUL byte there is a usage error that gives its offset, not the end of the
JSON text, which would drop what follows and send the call anyway. A
standard input that cannot be read, such as a directory, is named with
the system's reason. Both fail before certpickd is reached."""

import os
import subprocess

from daemontest import check, check_equal, run


def call(home, stdin, *args):
    # No certpickd may start: every case fails before connecting.
    env = dict(home.env(), CERTPICKD="/nonexistent/certpickd")
    return subprocess.run([os.environ["CERTPICK_CLI"], "call", *args, "-"],
                          env=env, stdin=stdin, capture_output=True,
                          timeout=30)


def run_with_input(home, data, *args):
    path = os.path.join(home.root, "parameters")
    with open(path, "wb") as f:
        f.write(data)
    with open(path, "rb") as f:
        return call(home, f, *args)


def test(home):
    # A NUL after a complete object used to end the text there.
    result = run_with_input(home, b'{}\0{"host": "dropped"}',
                            "ListIdentities")
    check_equal(result.returncode, 2, "exit status for a NUL after {}")
    check(b"contain a NUL byte at offset 2" in result.stderr,
          f"names the NUL and its offset: {result.stderr!r}")
    check(b"cannot start certpickd" not in result.stderr,
          f"no call was made: {result.stderr!r}")

    # A NUL inside a string used to read as a premature end of input.
    result = run_with_input(home, b'{"host": "a\0b", "port": 443}',
                            "Select")
    check_equal(result.returncode, 2, "exit status for a NUL in a string")
    check(b"contain a NUL byte at offset 11" in result.stderr,
          f"names the NUL and its offset: {result.stderr!r}")

    directory = os.open(home.root, os.O_RDONLY | os.O_DIRECTORY)
    try:
        result = call(home, directory, "ListIdentities")
    finally:
        os.close(directory)
    check_equal(result.returncode, 2, "exit status for a directory")
    check(b"cannot read PARAMETERS from standard input: Is a directory"
          in result.stderr, f"gives the reason: {result.stderr!r}")


run(test)
