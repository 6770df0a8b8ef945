"""Harness for the client library tests: real TLS servers on loopback
(openssl s_server, nginx, gnutls-serv), the real certpickd with the
scripted picker, and the two clients under test: certpick connect and
tests/client/tls-client.

Each test-*.py file calls run(test) with a function that takes a Context.
The command line names the programs:

    test-NAME.py --certpickd PATH --tls-client PATH
"""

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "daemon"))

import daemontest  # noqa: E402
from daemontest import Failure, check, check_equal, pki  # noqa: E402,F401

# The verify store of every client holds only the CA that issued the
# server's certificate, so that OpenSSL cannot complete a client chain
# from it and hide a missing intermediate.
SERVER_CA = None
TLS_CLIENT = None

# Seconds a client may take before a test calls it hung.
CLIENT_TIMEOUT = 20


def free_port():
    """A port that was free a moment ago; servers retry on a clash."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def listening(port):
    """True when something listens on TCP port, per /proc/net/tcp{,6},
    which needs no probe connection that a server would count."""
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as f:
                lines = f.readlines()[1:]
        except FileNotFoundError:
            continue
        for line in lines:
            fields = line.split()
            if fields[3] == "0A" and int(fields[1].split(":")[1], 16) == port:
                return True
    return False


class Server:
    """A TLS server process on loopback. stdin stays open as a pipe:
    openssl s_server reads commands from it and exits at its end."""

    def __init__(self, name, workdir):
        self.name = name
        self.workdir = workdir
        self.process = None
        self.port = None
        self.out_path = os.path.join(workdir, f"{name}.out")
        self.err_path = os.path.join(workdir, f"{name}.err")

    def start(self, make_command, attempts=5):
        """Starts make_command(port) on a free port, retrying with another
        port when the process exits before it listens."""
        for _ in range(attempts):
            port = free_port()
            out = open(self.out_path, "w")
            err = open(self.err_path, "w")
            self.process = subprocess.Popen(
                make_command(port), stdin=subprocess.PIPE, stdout=out,
                stderr=err, cwd=self.workdir)
            out.close()
            err.close()
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                if listening(port):
                    self.port = port
                    return self
                if self.process.poll() is not None:
                    break
                time.sleep(0.02)
            self.stop()
        raise Failure(f"{self.name} did not listen:\n{self.errors()}")

    def send(self, text):
        """Writes text to the server's stdin (s_server commands)."""
        self.process.stdin.write(text.encode())
        self.process.stdin.flush()

    def output(self):
        with open(self.out_path, errors="replace") as f:
            return f.read()

    def errors(self):
        with open(self.err_path, errors="replace") as f:
            return f.read()

    def stop(self):
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        try:
            self.process.stdin.close()
        except OSError:
            pass
        self.process = None


class Result:
    """What a client process did."""

    def __init__(self, completed):
        self.status = completed.returncode
        self.stdout = completed.stdout
        self.stderr = completed.stderr

    def __repr__(self):
        return (f"exit status {self.status}\n--- stdout ---\n"
                f"{self.stdout[-3000:]}\n--- stderr ---\n{self.stderr}")


class Interactive:
    """A client process whose stdin the test writes."""

    def __init__(self, argv, env, workdir):
        self.out_path = os.path.join(workdir, "client.out")
        self.err_path = os.path.join(workdir, "client.err")
        with open(self.out_path, "w") as out, open(self.err_path, "w") as err:
            self.process = subprocess.Popen(argv, stdin=subprocess.PIPE,
                                            stdout=out, stderr=err, env=env)

    def send(self, text):
        self.process.stdin.write(text.encode())
        self.process.stdin.flush()

    def close_stdin(self):
        self.process.stdin.close()

    def wait(self, timeout=CLIENT_TIMEOUT):
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise Failure(f"certpick connect did not exit within {timeout} "
                          f"s:\n{self.errors()}")

    def output(self):
        with open(self.out_path, errors="replace") as f:
            return f.read()

    def errors(self):
        with open(self.err_path, errors="replace") as f:
            return f.read()

    def stop(self):
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        if not self.process.stdin.closed:
            try:
                self.process.stdin.close()
            except OSError:
                pass


class Context:
    """One test's home, certpickd, picker and servers."""

    def __init__(self, home):
        self.home = home
        self.picker = None
        self.daemon = None
        self.servers = []
        self.clients = []
        self.workdir = tempfile.mkdtemp(prefix="servers-", dir=home.root)

    # certpickd and the picker.

    def import_identities(self, *names):
        return [self.home.import_identity(name) for name in names]

    def start_daemon(self, script=None, policy=None, timeout=None):
        self.picker = daemontest.Picker(self.home, script)
        self.daemon = daemontest.Daemon(self.home, self.picker, policy,
                                        timeout).start()
        return self.daemon

    def stop_daemon(self):
        if self.daemon:
            self.daemon.stop()
            self.daemon = None

    def decisions(self):
        client = daemontest.Client(self.home.socket)
        try:
            return client.call("ListDecisions")["parameters"]["decisions"]
        finally:
            client.close()

    # Servers.

    def s_server(self, *, version=None, verify="require", trust="root",
                 ca_list=None, www=True, extra=()):
        """openssl s_server.

        verify is "require" (-Verify), "request" (-verify) or None. trust
        names the CA file under ca/ that verifies client certificates.
        ca_list is a PEM file whose subjects go in the CertificateRequest:
        by default the trust file, "" for none."""
        trust_file = pki("ca", trust + ".pem")

        def command(port):
            cmd = ["openssl", "s_server", "-accept", f"127.0.0.1:{port}",
                   "-cert", pki("server", "cert.pem"),
                   "-key", pki("server", "key.pem"),
                   "-verify_return_error"]
            if version:
                cmd.append("-tls1_2" if version == "1.2" else "-tls1_3")
            if verify == "require":
                cmd += ["-Verify", "4"]
            elif verify == "request":
                cmd += ["-verify", "4"]
            # -CAfile fills the CA list; -verifyCAfile only verifies.
            if ca_list is None:
                cmd += ["-CAfile", trust_file]
            else:
                cmd += ["-verifyCAfile", trust_file]
                if ca_list:
                    cmd += ["-CAfile", ca_list]
            if www:
                cmd.append("-www")
            return cmd + list(extra)

        return self._start("s_server", command)

    def nginx(self, *, trust="root", protocols="TLSv1.2 TLSv1.3"):
        """nginx with ssl_verify_client on; the page shows the verify
        result and the client's subject."""
        root = tempfile.mkdtemp(prefix="nginx-", dir=self.workdir)
        for sub in ("tmp", "logs"):
            os.mkdir(os.path.join(root, sub))

        def command(port):
            conf = os.path.join(root, "nginx.conf")
            with open(conf, "w") as f:
                f.write(NGINX_CONF.format(
                    root=root, port=port, protocols=protocols,
                    cert=pki("server", "cert.pem"),
                    key=pki("server", "key.pem"),
                    trust=pki("ca", trust + ".pem")))
            return ["nginx", "-p", root, "-c", conf,
                    "-e", os.path.join(root, "logs", "error.log"),
                    "-g", "daemon off;"]

        return self._start("nginx", command)

    def gnutls_serv(self, *, trust="root", priority=None, echo=False):
        """gnutls-serv --require-client-cert, as an HTTP server or an echo
        server. It has no option to bind one address, so it listens on
        every interface for the length of the test."""

        def command(port):
            cmd = ["gnutls-serv", "--port", str(port),
                   "--echo" if echo else "--http",
                   "--x509certfile", pki("server", "cert.pem"),
                   "--x509keyfile", pki("server", "key.pem"),
                   "--x509cafile", pki("ca", trust + ".pem"),
                   "--require-client-cert", "--verify-client-cert"]
            if priority:
                cmd.append("--priority=" + priority)
            return cmd

        return self._start("gnutls-serv", command)

    def _start(self, name, command):
        server = Server(f"{name}-{len(self.servers)}", self.workdir)
        self.servers.append(server)
        return server.start(command)

    # Clients.

    def connect(self, *args, stdin=None, env=None):
        """Runs certpick connect with the server CA as its verify store
        (unless args give --insecure or --ca-file)."""
        argv = [os.environ["CERTPICK_CLI"], "connect"]
        if "--insecure" not in args and "--ca-file" not in args:
            argv += ["--ca-file", SERVER_CA]
        return self._run(argv + list(args), stdin, env)

    def tls_client(self, *args, env=None):
        argv = [TLS_CLIENT, "--ca-file", SERVER_CA] + list(args)
        return self._run(argv, None, env)

    def start_connect(self, *args):
        """Starts certpick connect with stdin as a pipe, for a session that
        the test drives; returns an Interactive."""
        argv = [os.environ["CERTPICK_CLI"], "connect", "--ca-file",
                SERVER_CA] + list(args)
        client = Interactive(argv, self.client_env(), self.workdir)
        self.clients.append(client)
        return client

    def client_env(self):
        """The clients' environment. certpick connect starts certpickd when
        its socket is missing; that daemon would detach and outlive the
        test, so CERTPICKD names no program."""
        environment = self.home.env()
        environment["CERTPICKD"] = "/nonexistent/certpickd-in-tests"
        return environment

    def start_tls_client(self, *args):
        """Starts tls-client with stdin as a pipe; returns an Interactive."""
        argv = [TLS_CLIENT, "--ca-file", SERVER_CA] + list(args)
        client = Interactive(argv, self.client_env(), self.workdir)
        self.clients.append(client)
        return client

    def _run(self, argv, stdin, env):
        environment = self.client_env()
        environment.update(env or {})
        try:
            completed = subprocess.run(
                argv, input=stdin, capture_output=True, text=True,
                env=environment, timeout=CLIENT_TIMEOUT)
        except subprocess.TimeoutExpired as e:
            raise Failure(f"{argv[0]} hung for {CLIENT_TIMEOUT} s: "
                          f"{e.stderr!r}")
        return Result(completed)

    def close(self, passed=False):
        """Stops everything. After a passed test certpickd must exit with
        status 0, which a sanitizer report would change. After a failed
        test its status is not checked, so it cannot hide the first
        failure."""
        for client in self.clients:
            client.stop()
        for server in self.servers:
            server.stop()
        if self.daemon:
            daemon, self.daemon = self.daemon, None
            daemon.stop(expect_status=0 if passed else None)


NGINX_CONF = """
master_process off;
worker_processes 1;
pid {root}/nginx.pid;
events {{ worker_connections 64; }}
http {{
    access_log {root}/logs/access.log;
    client_body_temp_path {root}/tmp/body;
    proxy_temp_path {root}/tmp/proxy;
    fastcgi_temp_path {root}/tmp/fastcgi;
    uwsgi_temp_path {root}/tmp/uwsgi;
    scgi_temp_path {root}/tmp/scgi;
    server {{
        listen 127.0.0.1:{port} ssl;
        ssl_certificate {cert};
        ssl_certificate_key {key};
        ssl_protocols {protocols};
        ssl_client_certificate {trust};
        ssl_verify_client on;
        ssl_verify_depth 4;
        location / {{
            default_type text/plain;
            return 200 "verify=$ssl_client_verify subject=$ssl_client_s_dn\\n";
        }}
    }}
}}
"""


def subjects_seen(text):
    """The client certificate subjects in s_server -www or gnutls-serv
    --http pages, in order of the connections."""
    seen = []
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("subject=") or line.startswith("Subject: "):
            seen.append(line.split("=", 1)[1] if line.startswith(
                "subject=") else line[len("Subject: "):])
    return seen


def wait_for_text(source, text, scenario, timeout=10):
    """Waits until source() contains text."""
    return daemontest.wait_until(lambda: text in source(), timeout,
                                 f"{text!r} in {scenario}")


def check_status(result, expected, scenario):
    if result.status != expected:
        raise Failure(f"{scenario}: expected exit status {expected}, got "
                      f"{result!r}")


def check_in(needle, haystack, scenario):
    if needle not in haystack:
        raise Failure(f"{scenario}: {needle!r} not found in:\n{haystack}")


def sent_and_seen(stdout):
    """(label sent, subject seen by the server) per connection, from the
    output of tls-client."""
    results = []
    for block in stdout.split("=== connection ")[1:]:
        sent = block.split(": sent ", 1)[1].split("\n", 1)[0]
        seen = "none"
        if "no client certificate available" not in block:
            seen = block.split("Subject: O=certpick test, CN=", 1)[1]
            seen = seen.split("\n", 1)[0]
        results.append((sent, seen))
    return results


def run(test):
    global SERVER_CA, TLS_CLIENT
    parser = argparse.ArgumentParser()
    parser.add_argument("--certpickd", required=True)
    parser.add_argument("--tls-client", required=True)
    options = parser.parse_args()
    os.environ["CERTPICKD"] = options.certpickd
    TLS_CLIENT = options.tls_client
    SERVER_CA = pki("ca", "server-ca.pem")

    def wrapped(home):
        context = Context(home)
        try:
            test(context)
        except BaseException:
            context.close()
            raise
        context.close(passed=True)

    daemontest.run(wrapped)
