#!/usr/bin/python3
"""certpick connect: arguments, the HTTP and stream modes, --cert with a
local key, --count, server verification, and its exit codes."""

import socket
import threading

from clienttest import (check, check_equal, check_in, check_status, pki,
                        run)


def usage_errors(ctx):
    for args, text in [
            ((), "usage: certpick connect"),
            ((), "the URL or HOST:PORT is missing"),
            (("localhost:1", "localhost:2"), "give one URL or HOST:PORT"),
            (("example.test",), "invalid target 'example.test'"),
            (("http://example.test/",), "unsupported URL"),
            (("--count", "0", "localhost:1"), "invalid --count '0'"),
            (("--key", "k.pem", "localhost:1"), "--key needs --cert"),
            (("--tls1.2", "--tls1.3", "localhost:1"), "at most one of"),
            (("--insecure", "--ca-file", "x", "localhost:1"),
             "at most one of")]:
        result = ctx.connect(*args) if args else ctx.connect()
        check_status(result, 2, f"certpick connect {' '.join(args)}")
        check_in(text, result.stderr, f"certpick connect {' '.join(args)}")

    result = ctx.connect("--help")
    check_status(result, 0, "--help")
    for code in range(8):
        check_in(f"\n  {code}  ", result.stdout, "--help exit status list")


def silent_server():
    """A TCP server that accepts connections and never sends a byte."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(4)
    accepted = []
    thread = threading.Thread(
        target=lambda: accepted.append(listener.accept()), daemon=True)
    thread.start()
    return listener, accepted


def network_errors(ctx):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    result = ctx.connect(f"127.0.0.1:{port}")
    check_status(result, 3, "connection refused")
    check_in(f"cannot connect to 127.0.0.1:{port}: ", result.stderr,
             "refused")

    # An IPv6 address is written with brackets, as in the target.
    with socket.socket(socket.AF_INET6) as s:
        s.bind(("::1", 0))
        port = s.getsockname()[1]
    result = ctx.connect(f"[::1]:{port}")
    check_status(result, 3, "connection refused on ::1")
    check_in(f"cannot connect to [::1]:{port}: ", result.stderr,
             "refused on ::1")

    listener, accepted = silent_server()
    port = listener.getsockname()[1]
    result = ctx.connect("--timeout", "1", f"127.0.0.1:{port}")
    listener.close()
    for connection, _ in accepted:
        connection.close()
    check_status(result, 3, "silent server")
    check_in("timed out after 1000 ms", result.stderr, "silent server")


def local_certificate(ctx):
    """--cert and --key never contact certpickd."""
    no_agent = {"CERTPICK_SOCKET": "/nonexistent/socket",
                "CERTPICKD": "/nonexistent/certpickd"}
    server = ctx.s_server()
    url = f"https://127.0.0.1:{server.port}/"
    result = ctx.connect("--cert", pki("leaves", "p256", "bundle.pem"), "-v",
                         url, env=no_agent)
    check_status(result, 0, "--cert bundle")
    check_in("CN=Alice P-256", result.stdout, "--cert bundle page")
    check_in("sent the certificate in", result.stderr, "--cert -v")

    # A certificate file without its chain: the server cannot verify it.
    result = ctx.connect("--cert", pki("leaves", "p256", "cert.pem"),
                         "--key", pki("leaves", "p256", "key.pem"), url,
                         env=no_agent)
    check_status(result, 5, "--cert without the intermediate")
    check_in("server rejected the client certificate", result.stderr,
             "--cert without the intermediate")

    result = ctx.connect("--cert", pki("formats", "mismatch-cert.pem"),
                         "--key", pki("formats", "mismatch-key.pem"), url,
                         env=no_agent)
    check_status(result, 1, "--cert with another key")
    check_in("does not belong to the certificate", result.stderr,
             "--cert with another key")


def verification(ctx):
    server = ctx.s_server(verify="request")
    url = f"https://127.0.0.1:{server.port}/"
    result = ctx.connect("--ca-file", pki("ca", "root.pem"), url)
    check_status(result, 4, "server certificate from an untrusted CA")
    check_in("cannot verify the certificate of 127.0.0.1", result.stderr,
             "untrusted server")
    check_in("contains the CA certificates that issued the server's",
             result.stderr, "hint for a --ca-file without the server's CA")
    check_status(ctx.connect("--insecure", url), 0, "--insecure")


def http_and_stream(ctx):
    server = ctx.s_server(verify="request")
    url = f"https://127.0.0.1:{server.port}/"
    result = ctx.connect("-i", url)
    check_status(result, 0, "-i")
    # The output is read as text, so CRLF arrives as LF.
    check(result.stdout.startswith("HTTP/1.0 200 ok\nContent-type: "
                                   "text/html\n\n<HTML>"),
          f"-i output starts with {result.stdout[:60]!r}")
    result = ctx.connect(url)
    check(result.stdout.startswith("<HTML>"),
          f"body starts with {result.stdout[:40]!r}")

    # Stream mode: stdin to the server, the server's echo to stdout, and
    # close_notify at the end of stdin.
    gnutls = ctx.gnutls_serv(echo=True)
    result = ctx.connect(f"127.0.0.1:{gnutls.port}",
                         stdin="first line\nsecond line\n")
    check_status(result, 0, "stream mode")
    check_equal(result.stdout, "first line\nsecond line\n",
                "stream mode echo")


def rate(ctx):
    ctx.picker.set_script({"default": {"remember": "session"}})
    server = ctx.s_server()
    before = len(ctx.picker.chooses())
    signed_before = ctx.daemon.log().count("signed with identity")
    result = ctx.connect("--count", "5", f"127.0.0.1:{server.port}")
    check_status(result, 0, "--count")
    check_in("5 handshakes in ", result.stdout, "--count")
    check_in(" handshakes/s", result.stdout, "--count")
    check_equal(len(ctx.picker.chooses()) - before, 1,
                "Choose calls for 5 handshakes with a remembered choice")
    signed = ctx.daemon.log().count("signed with identity") - signed_before
    check_equal(signed, 5, "signatures for 5 handshakes")


def test(ctx):
    usage_errors(ctx)
    network_errors(ctx)
    local_certificate(ctx)
    ctx.import_identities("p256")
    ctx.start_daemon({"default": {}})
    verification(ctx)
    http_and_stream(ctx)
    rate(ctx)


run(test)
