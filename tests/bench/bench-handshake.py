#!/usr/bin/python3
"""Handshakes per second through certpick against the same client with the
key in process (certpick connect --cert), side by side, with the ratio.
Through certpick, a remembered decision settles every Select and certpickd
makes every signature. It covers ECDSA P-256 and RSA-2048 in TLS 1.2 and
1.3. The server is openssl s_server on loopback, requiring a client
certificate.

The two clients take turns in short runs, so that drift in the machine's
load affects both alike. The table shows the median rate of each client,
the median of the ratios of the runs taken in turn with the lowest and
highest of them, and certpickd's CPU time (user and system) per handshake.

    bench-handshake.py [--build DIR] [--handshakes N] [--rounds R]

With --build, the programs and the PKI come from that meson build folder;
otherwise from CERTPICKD, CERTPICK_CLI and CERTPICK_TEST_PKI, as
"meson test --benchmark" sets them.
"""

import argparse
import os
import re
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "client"))

import clienttest  # noqa: E402

CONFIGS = [("p256", "ECDSA P-256"), ("rsa2048", "RSA-2048")]
VERSIONS = ["1.2", "1.3"]


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--build", help="a meson build folder")
    parser.add_argument("--handshakes", type=int, default=200,
                        help="handshakes per run (default 200)")
    parser.add_argument("--rounds", type=int, default=9,
                        help="runs of each client per configuration "
                        "(default 9)")
    options = parser.parse_args()
    if options.build:
        build = os.path.abspath(options.build)
        os.environ["CERTPICKD"] = os.path.join(build, "daemon", "certpickd")
        os.environ["CERTPICK_CLI"] = os.path.join(build, "daemon",
                                                  "certpick")
        os.environ["CERTPICK_TEST_PKI"] = os.path.join(build, "tests", "pki")
    for name in ("CERTPICKD", "CERTPICK_CLI", "CERTPICK_TEST_PKI"):
        if not os.environ.get(name):
            parser.error(f"{name} is not set; pass --build DIR")
    return options


def rate(result, scenario):
    """Handshakes per second from certpick connect --count's output."""
    match = re.search(r"handshakes in ([0-9.]+) s: ([0-9.]+) handshakes/s",
                      result.stdout)
    if result.status != 0 or not match:
        raise clienttest.Failure(f"{scenario} failed: {result!r}")
    return float(match.group(2))


def cpu_seconds(pid):
    """User and system CPU time of a process, from /proc."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure(ctx, name, version, options):
    """Returns the median rate of each client, the per-round ratios and
    certpickd's CPU seconds per handshake."""
    server = ctx.s_server(version=version, www=False,
                          extra=("-quiet", "-no_cache"))
    target = f"127.0.0.1:{server.port}"
    bundle = clienttest.pki("leaves", name, "bundle.pem")

    # One connection through the picker remembers the choice; the
    # measured ones are then decided by that decision.
    warm = ctx.connect(f"--tls{version}", target)
    if warm.status != 0:
        raise clienttest.Failure(f"warm-up failed: {warm!r}")

    rates = {"certpick": [], "cert": []}
    ratios = []
    daemon_cpu = 0.0
    pid = ctx.daemon.process.pid
    for round_number in range(options.rounds):
        order = ["certpick", "cert"]
        if round_number % 2:
            order.reverse()
        for client in order:
            args = [f"--tls{version}", "--count", str(options.handshakes),
                    target]
            if client == "cert":
                args = ["--cert", bundle] + args
            before = cpu_seconds(pid)
            rates[client].append(rate(ctx.connect(*args),
                                      f"{client} {name} TLS {version}"))
            if client == "certpick":
                daemon_cpu += cpu_seconds(pid) - before
        ratios.append(rates["certpick"][-1] / rates["cert"][-1])
    server.stop()
    return (statistics.median(rates["certpick"]),
            statistics.median(rates["cert"]), ratios,
            daemon_cpu / (options.rounds * options.handshakes))


class QuietDaemon(clienttest.daemontest.Daemon):
    """certpickd without -v: a debug line per call would be part of the
    measurement."""

    def command(self):
        return [arg for arg in super().command() if arg != "-v"]


def bench(ctx, options):
    ctx.import_identities(*[name for name, _ in CONFIGS])
    ctx.picker = clienttest.daemontest.Picker(ctx.home)
    ctx.daemon = QuietDaemon(ctx.home, ctx.picker).start()

    print(f"{options.handshakes} handshakes per run, {options.rounds} runs "
          f"of each client, openssl s_server on loopback, "
          f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}")
    print(f"{'key':<12} {'TLS':<4} {'certpick h/s':>13} {'--cert h/s':>11} "
          f"{'ratio':>6} {'lowest':>7} {'highest':>7} "
          f"{'certpickd CPU':>14}")
    worst = None
    for name, title in CONFIGS:
        label = "Alice " + title.split()[-1]
        ctx.picker.set_script({"default": {"choose": "label:" + label,
                                           "remember": "session"}})
        for version in VERSIONS:
            started = time.monotonic()
            through, local, ratios, cpu = measure(ctx, name, version,
                                                  options)
            ratio = statistics.median(ratios)
            worst = ratio if worst is None else min(worst, ratio)
            print(f"{title:<12} {version:<4} {through:>13.1f} {local:>11.1f} "
                  f"{ratio:>6.3f} {min(ratios):>7.3f} {max(ratios):>7.3f} "
                  f"{cpu * 1e6:>11.0f} us   "
                  f"({time.monotonic() - started:.0f} s)", flush=True)
    print(f"lowest median ratio: {worst:.3f} (goal: 0.97 or more); load "
          f"average {os.getloadavg()[0]:.2f}")


def main():
    options = parse_args()
    clienttest.CLIENT_TIMEOUT = 600
    clienttest.SERVER_CA = clienttest.pki("ca", "server-ca.pem")

    def run_bench(home):
        ctx = clienttest.Context(home)
        try:
            bench(ctx, options)
        finally:
            ctx.close()

    clienttest.daemontest.run(run_bench)


main()
