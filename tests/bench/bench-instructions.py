#!/usr/bin/python3
"""Instructions per handshake and per Select, counted by valgrind's
callgrind. Unlike times, these counts hardly change with the load of the
machine, so they show what a change to the code did even on a busy one.

For ECDSA P-256 and RSA-2048 in TLS 1.2 and 1.3, with a remembered
decision settling every Select:

1. certpickd's instructions per handshake of certpick connect --count
   (one Select and one Sign), counted between two callgrind_control
   commands, so that start-up is left out;
2. the client's instructions per handshake, through certpick and with the
   key in the process (--cert), from the difference between two runs of
   different lengths;
3. for P-256 only, certpickd's instructions per Select of
   bench-daemon-load (10 connections, host and port only, as
   bench-daemon.py sends).

    bench-instructions.py [--build DIR] [--handshakes N]

With --build, the programs and the PKI come from that meson build folder;
otherwise from CERTPICKD, CERTPICK_CLI, CERTPICK_TEST_PKI and
CERTPICK_BUILD_ROOT, as "meson test --benchmark" sets them. It needs
valgrind (the Debian package of that name).
"""

import argparse
import glob
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "client"))

import clienttest  # noqa: E402

CONFIGS = [("p256", "ECDSA P-256"), ("rsa2048", "RSA-2048")]
VERSIONS = ["1.2", "1.3"]


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--build", help="a meson build folder")
    parser.add_argument("--handshakes", type=int, default=100,
                        help="handshakes counted per client (default 100)")
    options = parser.parse_args()
    if options.build:
        build = os.path.abspath(options.build)
        os.environ["CERTPICKD"] = os.path.join(build, "daemon", "certpickd")
        os.environ["CERTPICK_CLI"] = os.path.join(build, "daemon",
                                                  "certpick")
        os.environ["CERTPICK_TEST_PKI"] = os.path.join(build, "tests", "pki")
        os.environ["CERTPICK_BUILD_ROOT"] = build
    for name in ("CERTPICKD", "CERTPICK_CLI", "CERTPICK_TEST_PKI",
                 "CERTPICK_BUILD_ROOT"):
        if not os.environ.get(name):
            parser.error(f"{name} is not set; pass --build DIR")
    return options


def total_instructions(path):
    """The instruction count of a callgrind output file."""
    with open(path) as f:
        for line in f:
            if line.startswith("totals:"):
                return int(line.split()[1])
    raise clienttest.Failure(f"no totals in {path}")


class CountedDaemon(clienttest.daemontest.Daemon):
    """certpickd under callgrind, counting only between the commands of
    count()."""

    def __init__(self, home, picker, out_dir):
        super().__init__(home, picker, verbose=False)
        self.out_dir = out_dir
        self.dumps = 0

    def command(self):
        return ["valgrind", "--tool=callgrind", "--instr-atstart=no",
                f"--callgrind-out-file={self.out_dir}/certpickd.%p"] + \
            super().command()

    def start(self, wait=True):
        super().start(wait=False)
        clienttest.daemontest.wait_until(self.listening, 120,
                                         "certpickd under valgrind")
        return self

    def count(self, work):
        """Runs work() and returns certpickd's instructions meanwhile."""
        pid = str(self.process.pid)
        control = ["callgrind_control"]
        subprocess.run(control + ["-i", "on", pid], check=True,
                       capture_output=True)
        work()
        subprocess.run(control + ["-d", pid], check=True,
                       capture_output=True)
        subprocess.run(control + ["-i", "off", pid], check=True,
                       capture_output=True)
        self.dumps += 1
        return total_instructions(
            f"{self.out_dir}/certpickd.{pid}.{self.dumps}")


def client_instructions(ctx, args, handshakes, out_dir):
    """The client's instructions per handshake: the difference between
    runs of handshakes + 20 and of 20 handshakes, so that start-up and
    the first, uncached handshake drop out."""
    counts = []
    for n in (20, handshakes + 20):
        out = os.path.join(out_dir, f"client.{len(os.listdir(out_dir))}")
        argv = ["valgrind", "--tool=callgrind",
                f"--callgrind-out-file={out}", os.environ["CERTPICK_CLI"],
                "connect", "--ca-file", clienttest.SERVER_CA,
                "--count", str(n)] + args
        result = subprocess.run(argv, capture_output=True, text=True,
                                env=ctx.client_env(), timeout=600)
        if result.returncode != 0:
            raise clienttest.Failure(f"{' '.join(argv)} failed:\n"
                                     f"{result.stderr[-2000:]}")
        counts.append(total_instructions(out))
    return (counts[1] - counts[0]) / handshakes


def measure(ctx, name, version, options, out_dir):
    server = ctx.s_server(version=version, www=False,
                          extra=("-quiet", "-no_cache"))
    target = f"127.0.0.1:{server.port}"
    warm = ctx.connect(f"--tls{version}", "--count", "1", target)
    if warm.status != 0:
        raise clienttest.Failure(f"warm-up failed: {warm!r}")

    def handshakes():
        result = ctx.connect(f"--tls{version}", "--count",
                             str(options.handshakes), target)
        if result.status != 0:
            raise clienttest.Failure(f"handshakes failed: {result!r}")

    daemon = ctx.daemon.count(handshakes) / options.handshakes
    through = client_instructions(ctx, [f"--tls{version}", target],
                                  options.handshakes, out_dir)
    local = client_instructions(
        ctx, ["--cert", clienttest.pki("leaves", name, "bundle.pem"),
              f"--tls{version}", target], options.handshakes, out_dir)
    server.stop()
    return daemon, through, local


def select_instructions(ctx):
    """certpickd's instructions per Select from bench-daemon-load."""
    load = os.path.join(os.environ["CERTPICK_BUILD_ROOT"], "tests", "bench",
                        "bench-daemon-load")
    result = {}

    def run_load():
        out = subprocess.run([load, ctx.home.socket, "bench.test", "443",
                              "10", "2"], check=True, capture_output=True,
                             text=True).stdout
        result.update(field.split("=") for field in out.split())

    client = clienttest.daemontest.Client(ctx.home.socket)
    reply = client.call("Select", {"host": "bench.test", "port": 443})
    client.close()
    if reply.get("parameters", {}).get("decided_by") != "picker":
        raise clienttest.Failure(f"Select for bench.test: {reply}")
    return ctx.daemon.count(run_load) / int(result["calls"])


def bench(ctx, options, out_dir):
    ctx.import_identities(*[name for name, _ in CONFIGS])
    ctx.picker = clienttest.daemontest.Picker(ctx.home)
    ctx.daemon = CountedDaemon(ctx.home, ctx.picker, out_dir).start()

    print(f"instructions counted by callgrind, {options.handshakes} "
          f"handshakes per count")
    print(f"{'key':<12} {'TLS':<4} {'certpickd':>10} {'client':>10} "
          f"{'--cert client':>14}")
    for name, title in CONFIGS:
        label = "Alice " + title.split()[-1]
        ctx.picker.set_script({"default": {"choose": "label:" + label,
                                           "remember": "session"}})
        for version in VERSIONS:
            daemon, through, local = measure(ctx, name, version, options,
                                             out_dir)
            print(f"{title:<12} {version:<4} {daemon:>10,.0f} "
                  f"{through:>10,.0f} {local:>14,.0f}", flush=True)

    ctx.picker.set_script({"default": {"choose": "label:Alice P-256",
                                       "remember": "session"}})
    print(f"certpickd, per Select of bench-daemon-load: "
          f"{select_instructions(ctx):,.0f}")


def main():
    options = parse_args()
    if not shutil.which("valgrind") or not shutil.which("callgrind_control"):
        print("valgrind is not installed; nothing was counted")
        return
    clienttest.CLIENT_TIMEOUT = 600
    clienttest.SERVER_CA = clienttest.pki("ca", "server-ca.pem")
    out_dir = tempfile.mkdtemp(prefix="certpick-callgrind-")

    def run_bench(home):
        ctx = clienttest.Context(home)
        try:
            bench(ctx, options, out_dir)
        finally:
            ctx.close()

    try:
        clienttest.daemontest.run(run_bench)
    finally:
        for path in glob.glob(os.path.join(out_dir, "*")):
            os.unlink(path)
        os.rmdir(out_dir)


main()
