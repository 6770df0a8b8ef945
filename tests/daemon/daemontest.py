"""Test harness for certpickd: a private home with an identity store, the
real certpickd process on a real socket, the scripted picker, and a raw
Varlink client that uses only the standard library.

Used by the test-*.py files in this folder and by tests/bench/. Reads
CERTPICKD, CERTPICK_CLI and CERTPICK_TEST_PKI from the environment that
tests/meson.build sets.
"""

import base64
import json
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import traceback

SKIP = 77
HERE = os.path.dirname(os.path.abspath(__file__))
AGENT = "org.certpick.Agent."


class Failure(Exception):
    """A check failed."""


def check(condition, message):
    if not condition:
        raise Failure(message)


def check_equal(actual, expected, what):
    if actual != expected:
        raise Failure(f"{what}: expected {expected!r}, got {actual!r}")


def wait_until(predicate, timeout, what):
    """Polls predicate until it returns a true value, which it returns."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise Failure(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.02)


def pki(*parts):
    return os.path.join(os.environ["CERTPICK_TEST_PKI"], *parts)


def der_base64_of_pem(path):
    """Base64 of the DER of the first certificate in a PEM file."""
    with open(path) as f:
        text = f.read()
    body = text.split("-----BEGIN CERTIFICATE-----")[1]
    body = body.split("-----END CERTIFICATE-----")[0]
    return base64.b64encode(base64.b64decode("".join(body.split()))).decode()


def _der_element(data, offset):
    """Returns (tag, start of content, end of element) of the DER element
    at offset."""
    tag = data[offset]
    length = data[offset + 1]
    start = offset + 2
    if length & 0x80:
        count = length & 0x7F
        length = int.from_bytes(data[start:start + count], "big")
        start += count
    return tag, start, start + length


def name_der_base64(pem_path, which="subject"):
    """Base64 of the DER subject (or issuer) name of a certificate."""
    der = subprocess.run(["openssl", "x509", "-in", pem_path, "-outform",
                          "DER"], check=True, capture_output=True).stdout
    _, cert_start, _ = _der_element(der, 0)
    _, tbs_start, tbs_end = _der_element(der, cert_start)
    fields = []
    offset = tbs_start
    while offset < tbs_end and len(fields) < 6:
        tag, _, end = _der_element(der, offset)
        if tag != 0xA0:  # the optional version
            fields.append((offset, end))
        offset = end
    # serial, signature, issuer, validity, subject
    begin, end = fields[2] if which == "issuer" else fields[4]
    return base64.b64encode(der[begin:end]).decode()


# The uid that other_uid_command runs a program as, when it runs as root.
OTHER_UID = 65534


def other_uid_command():
    """Returns the command prefix that runs a program as another uid that
    can still reach the socket, or None."""
    setpriv = shutil.which("setpriv")
    if os.getuid() == 0 and setpriv:
        return [setpriv, f"--reuid={OTHER_UID}", f"--regid={OTHER_UID}",
                "--clear-groups", "--inh-caps=+dac_override",
                "--ambient-caps=+dac_override"]
    unshare = shutil.which("unshare")
    if unshare and setpriv:
        # Inside the namespace, uid 0 is this user and uid 1 maps to a
        # subordinate uid outside, which certpickd sees.
        probe = subprocess.run([unshare, "--user", "--map-root-user",
                                "--map-auto", "true"], capture_output=True)
        if probe.returncode == 0:
            return [unshare, "--user", "--map-root-user", "--map-auto",
                    setpriv, "--reuid=1", "--regid=1", "--clear-groups",
                    "--inh-caps=+dac_override",
                    "--ambient-caps=+dac_override"]
    return None


class Home:
    """A private home: identity store, state folder, runtime folder."""

    def __init__(self):
        self.root = tempfile.mkdtemp(prefix="certpick-daemon-test-")
        self.store = os.path.join(self.root, "store")
        self.state = os.path.join(self.root, "state")
        self.run = os.path.join(self.root, "run")
        os.mkdir(self.run, 0o700)
        self.socket = os.path.join(self.run, "socket")
        self.decisions = os.path.join(self.state, "certpick",
                                      "decisions.json")
        self.ids = {}

    def env(self):
        env = dict(os.environ)
        env.update({"HOME": self.root, "XDG_STATE_HOME": self.state,
                    "XDG_DATA_HOME": os.path.join(self.root, "data"),
                    "XDG_RUNTIME_DIR": self.run,
                    "CERTPICK_SOCKET": self.socket,
                    "CERTPICK_STORE": self.store})
        return env

    def cli(self, *args, check_status=True):
        result = subprocess.run([os.environ["CERTPICK_CLI"], *args],
                                env=self.env(), capture_output=True,
                                text=True, timeout=30)
        if check_status and result.returncode != 0:
            raise Failure(f"certpick {' '.join(args)} failed with "
                          f"{result.returncode}: {result.stderr}")
        return result

    def import_identity(self, name, *extra):
        """Imports leaves/NAME/bundle.pem, or the files given in extra,
        and returns the id."""
        files = extra if extra else (pki("leaves", name, "bundle.pem"),)
        out = self.cli("import", "--store", self.store, *files).stdout
        identity_id = out.strip().split()[-1]
        if "already in the store" in out:
            identity_id = out.split(" as ")[1].split(";")[0]
        check(len(identity_id) == 64, f"unexpected import output {out!r}")
        self.ids[name] = identity_id
        return identity_id

    def remove(self):
        shutil.rmtree(self.root, ignore_errors=True)


class Picker:
    """The script and the log of the scripted picker."""

    def __init__(self, home, script=None):
        self.script_path = os.path.join(home.root, "picker-script.json")
        self.log_path = os.path.join(home.root, "picker-log.jsonl")
        self.program = os.path.join(home.root, "picker")
        with open(self.program, "w") as f:
            f.write("#!/bin/sh\nexec /usr/bin/python3 %s \"$@\"\n"
                    % os.path.join(HERE, "scripted-picker.py"))
        os.chmod(self.program, 0o755)
        open(self.log_path, "w").close()
        self.set_script(script or {})

    def set_script(self, script):
        with open(self.script_path, "w") as f:
            json.dump(script, f)
        try:
            os.unlink(self.script_path + ".state")
        except FileNotFoundError:
            pass

    def entries(self):
        with open(self.log_path) as f:
            return [json.loads(line) for line in f if line.strip()]

    def calls(self, method=None):
        return [e for e in self.entries() if "method" in e and
                (method is None or e["method"].endswith("." + method))]

    def chooses(self, host=None):
        return [c for c in self.calls("Choose")
                if host is None or c["parameters"]["server"]["host"] == host]

    def starts(self):
        return [e for e in self.entries() if e.get("event") == "start"]

    def wait_for_choose(self, host=None, count=1, timeout=10):
        return wait_until(lambda: len(self.chooses(host)) >= count and
                          self.chooses(host), timeout,
                          f"{count} Choose calls for {host or 'any host'}")

    def wait_for_close(self, reason, timeout=10):
        return wait_until(
            lambda: [c for c in self.calls("Close")
                     if c["parameters"]["reason"] == reason],
            timeout, f"Close with reason {reason}")


class Daemon:
    """A certpickd process in the foreground, with its log in a file."""

    running = []

    @classmethod
    def kill_all(cls):
        """Kills the certpickd processes that a test left running."""
        for daemon in cls.running:
            if daemon.process and daemon.process.poll() is None:
                daemon.process.kill()
                daemon.process.wait()
        cls.running.clear()

    def __init__(self, home, picker=None, policy=None, timeout=None,
                 args=(), default_socket=False, verbose=True):
        """picker is the scripted Picker, or any object whose program
        attribute names the picker to run. Without --socket and
        CERTPICK_SOCKET when default_socket is set, so that certpickd
        picks $XDG_RUNTIME_DIR/certpick/socket."""
        self.home = home
        self.verbose = verbose
        self.default_socket = default_socket
        self.picker = picker
        self.policy_path = os.path.join(home.root, "policy.json")
        if not os.path.exists(self.policy_path):
            with open(self.policy_path, "w") as f:
                json.dump(policy if policy is not None else {}, f)
        self.timeout = timeout
        self.args = list(args)
        self.log_path = os.path.join(home.root, "certpickd.log")
        self.process = None

    def command(self):
        cmd = [os.environ["CERTPICKD"], "--foreground", "--store",
               self.home.store, "--policy", self.policy_path, "--picker",
               self.picker.program if self.picker else "/nonexistent/picker"]
        if not self.default_socket:
            cmd += ["--socket", self.home.socket]
        if self.verbose:
            cmd.append("-v")
        if self.timeout:
            cmd += ["--timeout", str(self.timeout)]
        return cmd + self.args

    def environment(self):
        env = self.home.env()
        if self.default_socket:
            del env["CERTPICK_SOCKET"]
        if isinstance(self.picker, Picker):
            env["CERTPICK_TEST_PICKER_SCRIPT"] = self.picker.script_path
            env["CERTPICK_TEST_PICKER_LOG"] = self.picker.log_path
        return env

    def start(self, wait=True):
        log = open(self.log_path, "a")
        self.process = subprocess.Popen(self.command(), env=self.environment(),
                                        stdin=subprocess.DEVNULL,
                                        stdout=log, stderr=log)
        log.close()
        Daemon.running.append(self)
        if wait:
            wait_until(self.listening, 10, "certpickd to listen")
        return self

    def listening(self):
        if self.process.poll() is not None:
            raise Failure(f"certpickd exited with {self.process.returncode}"
                          f":\n{self.log()}")
        try:
            Client(self.home.socket).close()
            return True
        except OSError:
            return False

    def stop(self, sig=signal.SIGTERM, expect_status=0):
        """Stops certpickd and checks its exit status; sanitizer reports
        (leaks among them) make it nonzero."""
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.send_signal(sig)
        try:
            status = self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            raise Failure("certpickd did not stop within 20 s of "
                          f"{sig.name}")
        self.process = None
        Daemon.running.remove(self)
        if expect_status is not None:
            check_equal(status, expect_status, "certpickd exit status")
        log = self.log()
        for problem in ("breaks the interface", "answered twice",
                        "runtime error", "AddressSanitizer"):
            check(problem not in log, f"certpickd logged {problem!r}")
        return status

    def log(self):
        with open(self.log_path, errors="replace") as f:
            return f.read()

    def wait_for_log(self, text, timeout=10):
        """Waits until the log contains text, and returns the log."""
        return wait_until(lambda: text in self.log() and self.log(),
                          timeout, f"{text!r} in the certpickd log")


class Client:
    """A Varlink client on a plain socket, with only the standard
    library."""

    def __init__(self, path, timeout=30):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.connect(path)
        self.buffer = b""

    def close(self):
        self.sock.close()

    def send(self, method, parameters=None, more=False, oneway=False):
        message = {"method": method, "parameters": parameters or {}}
        if more:
            message["more"] = True
        if oneway:
            message["oneway"] = True
        self.send_raw(json.dumps(message).encode() + b"\0")

    def send_raw(self, data):
        self.sock.sendall(data)

    def receive(self):
        while b"\0" not in self.buffer:
            data = self.sock.recv(1 << 16)
            if not data:
                raise ConnectionError("certpickd closed the connection")
            self.buffer += data
        frame, self.buffer = self.buffer.split(b"\0", 1)
        return json.loads(frame)

    def call(self, method, parameters=None, more=False):
        if "." not in method:
            method = AGENT + method
        self.send(method, parameters, more)
        return self.receive()

    def closed_by_peer(self, timeout=5):
        """Returns True when certpickd closes the connection within
        timeout seconds, reading and dropping anything it sends."""
        self.sock.settimeout(timeout)
        try:
            while self.sock.recv(1 << 16):
                pass
            return True
        except (socket.timeout, TimeoutError):
            return False
        except ConnectionResetError:
            return True

    def peer_pid(self):
        creds = self.sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED,
                                     struct.calcsize("3i"))
        return struct.unpack("3i", creds)[0]


class FakeAgent:
    """A server on the agent's socket that only pretends to be certpickd.
    It replies to every call, on any number of connections, with
    respond(call), a reply as a dict. The calls are kept in calls."""

    def __init__(self, path, respond):
        self.respond = respond
        self.calls = []
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.listener.bind(path)
        self.listener.listen(8)
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._answer, args=(conn,),
                             daemon=True).start()

    def _answer(self, conn):
        buffer = b""
        with conn:
            while True:
                while b"\0" not in buffer:
                    chunk = conn.recv(65536)
                    if not chunk:
                        return
                    buffer += chunk
                frame, buffer = buffer.split(b"\0", 1)
                call = json.loads(frame)
                self.calls.append(call)
                reply = self.respond(call)
                conn.sendall(json.dumps(reply).encode() + b"\0")

    def close(self):
        self.listener.close()


def error_of(reply):
    return reply.get("error")


def run(test):
    """Runs test(home) and exits 0, 1 on a failed check, or 77 to skip.
    Prints the certpickd and picker logs when the test fails."""
    home = Home()
    try:
        test(home)
    except SystemExit:
        raise
    except BaseException:
        traceback.print_exc()
        for name in ("certpickd.log", "picker-log.jsonl"):
            path = os.path.join(home.root, name)
            if os.path.exists(path):
                with open(path, errors="replace") as f:
                    lines = f.read().splitlines()[-60:]
                text = "\n".join(line if len(line) < 400 else
                                 line[:400] + "..." for line in lines)
                print(f"--- {name} (last lines) ---\n{text}",
                      file=sys.stderr)
        Daemon.kill_all()
        sys.exit(1)
    Daemon.kill_all()
    home.remove()
    sys.exit(0)


def skip(reason):
    print("SKIP:", reason)
    sys.exit(SKIP)
