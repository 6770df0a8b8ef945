#!/usr/bin/python3
"""Benchmarks of certpickd, printed as a table; nothing here is checked.

    tests/bench/bench-daemon.py BUILD_DIR
    meson test -C BUILD_DIR --benchmark --verbose daemon

1. Select latency and throughput with a remembered decision, at 1, 10 and
   100 concurrent clients, each sending its next call when the last reply
   arrives (closed loop), and at 100 clients sending 2,000 calls per
   second in all (open loop). The load comes from bench-daemon-load, a C
   program, so that the client does not dominate the figures.
2. certpickd's resident memory with 1,000 requests waiting for the person,
   each from its own connection and for its own server.
3. Wake-ups of an idle certpickd (with an idle picker and an idle client
   connection) over 10 s: context switches, and system calls counted by
   strace when it is installed.

The goals, from the daemon's design: p99 under 1 ms at 100 clients; under
30 MB with 1,000 pending requests; no periodic wake-ups.
"""

import glob
import os
import resource
import shutil
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "daemon"))


def use_build_dir(build):
    """Sets the variables that meson's test environment would set."""
    os.environ.setdefault("CERTPICKD", os.path.join(build, "daemon",
                                                    "certpickd"))
    os.environ.setdefault("CERTPICK_CLI", os.path.join(build, "daemon",
                                                       "certpick"))
    os.environ.setdefault("CERTPICK_TEST_PKI", os.path.join(build, "tests",
                                                            "pki"))
    os.environ.setdefault("CERTPICK_BUILD_ROOT", build)


if len(sys.argv) > 1:
    use_build_dir(os.path.abspath(sys.argv[1]))

from daemontest import (Client, Daemon, Home, Picker,  # noqa: E402
                        name_der_base64, pki)

LOAD = os.path.join(os.environ["CERTPICK_BUILD_ROOT"], "tests", "bench",
                    "bench-daemon-load")
PENDING = 1000
IDLE_SECONDS = 10


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def context_switches(pid):
    total = 0
    for path in glob.glob(f"/proc/{pid}/task/*/status"):
        with open(path) as f:
            for line in f:
                if "ctxt_switches" in line:
                    total += int(line.split()[1])
    return total


def load(home, clients, seconds, rate=None):
    cmd = [LOAD, home.socket, "bench.test", "443", str(clients),
           str(seconds)]
    if rate:
        cmd.append(str(rate))
    out = subprocess.run(cmd, check=True, capture_output=True,
                         text=True).stdout
    return dict(field.split("=") for field in out.split())


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def bench_select(home, daemon):
    pid = daemon.process.pid
    print("## Select with a remembered decision\n")
    print("| clients | load | calls/s | p50 | p90 | p99 | max | "
          "certpickd CPU per call |")
    print("|---:|---|---:|---:|---:|---:|---:|---:|")
    runs = [(1, None), (10, None), (100, None), (100, 2000)]
    for clients, rate in runs:
        cpu_before = cpu_seconds(pid)
        r = load(home, clients, 5, rate)
        cpu = (cpu_seconds(pid) - cpu_before) / int(r["calls"])
        kind = f"{rate} calls/s" if rate else "closed loop"
        print(f"| {clients} | {kind} | {r['per_second']} | "
              f"{float(r['p50_us']):.0f} µs | {float(r['p90_us']):.0f} µs | "
              f"{float(r['p99_us']):.0f} µs | {float(r['max_us']):.0f} µs | "
              f"{cpu * 1e6:.0f} µs |")
    print()


def pending_rss(home, daemon, ca_names):
    """Returns certpickd's VmRSS in KiB before, with PENDING requests
    waiting, and after their clients disconnected."""
    pid = daemon.process.pid
    before = rss_kib(pid)
    clients = []
    for i in range(PENDING):
        client = Client(home.socket)
        client.send("org.certpick.Agent.Select",
                    {"host": f"pending-{i}.test", "port": 443,
                     "ca_names": ca_names})
        clients.append(client)
    log = daemon.log()
    deadline = time.monotonic() + 60
    while (daemon.log().count(f"(requests queued: {PENDING})") <=
           log.count(f"(requests queued: {PENDING})") and
           time.monotonic() < deadline):
        time.sleep(0.1)
    time.sleep(0.5)
    during = rss_kib(pid)
    for client in clients:
        client.close()
    time.sleep(1)
    return before, during, rss_kib(pid)


def bench_pending(home, daemon):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 4096), hard))
    print("## Memory\n")
    print(f"certpickd's VmRSS with {PENDING} requests waiting for the "
          f"person, each on its own connection and for its own server:\n")
    print("| CA names per request | before | pending | after they "
          "disconnected |")
    print("|---:|---:|---:|---:|")
    names = [name_der_base64(pki("ca", "root.pem")),
             name_der_base64(pki("ca", "inter.pem"))]
    for count in (0, 100):
        before, during, after = pending_rss(
            home, daemon, [names[i % 2] for i in range(count)])
        print(f"| {count} | {before / 1024:.1f} MB | {during / 1024:.1f} MB"
              f" | {after / 1024:.1f} MB |")
    print()


def bench_idle(home, daemon):
    pid = daemon.process.pid
    idle_client = Client(home.socket)
    time.sleep(1)
    before = context_switches(pid)
    time.sleep(IDLE_SECONDS)
    after = context_switches(pid)
    print("## Idle\n")
    print(f"Over {IDLE_SECONDS} s with an idle client connection and an "
          f"idle picker: {after - before} context switches.\n")

    # strace itself makes the process switch, so it runs separately.
    strace = shutil.which("strace")
    if not strace:
        print("strace is not installed; no system call count.\n")
        idle_client.close()
        return
    output = os.path.join(home.root, "strace.txt")
    tracer = subprocess.Popen([strace, "-c", "-f", "-p", str(pid), "-o",
                               output], stderr=subprocess.DEVNULL)
    time.sleep(IDLE_SECONDS)
    tracer.terminate()
    tracer.wait()
    with open(output) as f:
        table = f.read()
    if table.strip():
        print(f"System calls over the next {IDLE_SECONDS} s (strace -c):\n")
        print("".join("    " + line for line in table.splitlines(True)))
    else:
        # strace counts completed calls, and epoll_wait never returned.
        print(f"strace -c counted no system call over the next "
              f"{IDLE_SECONDS} s.\n")
    idle_client.close()


def main():
    if not os.path.exists(LOAD):
        sys.exit(f"{LOAD} is missing: build it with ninja first")
    home = Home()
    home.import_identity("p256")
    picker = Picker(home, {"by_host": {"bench.test": {"remember": "always"}},
                           "default": {"wait": True}})
    daemon = Daemon(home, picker, verbose=False).start()
    client = Client(home.socket)
    reply = client.call("Select", {"host": "bench.test", "port": 443})
    assert reply["parameters"]["decided_by"] == "picker", reply
    client.close()

    print(f"certpickd benchmarks: {os.uname().machine}, "
          f"{os.cpu_count()} CPUs, {time.strftime('%Y-%m-%d')}\n")
    bench_select(home, daemon)
    bench_idle(home, daemon)
    daemon.stop()

    # The pending-request count is read from the debug log.
    daemon = Daemon(home, picker, verbose=True).start()
    bench_pending(home, daemon)
    daemon.stop()
    home.remove()


main()
