#!/usr/bin/python3
"""certpick connect against an HTTPS server that replies with a chosen
status line. Only a status line of RFC 9112 with a code of 100-599 is
accepted. The request line carries the URL's path and query but not its
fragment. The client presents a local --cert, so certpickd is not
involved."""

import os
import socket
import ssl
import threading

from clienttest import check_equal, check_in, check_status, pki, run

NO_AGENT = {"CERTPICK_SOCKET": "/nonexistent/socket",
            "CERTPICKD": "/nonexistent/certpickd"}


class HttpsServer:
    """A TLS server on loopback that replies to every request with its
    status_line, and records the request lines."""

    def __init__(self):
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(pki("server", "cert.pem"),
                                pki("server", "key.pem"))
        self.listener = context.wrap_socket(
            socket.create_server(("127.0.0.1", 0)), server_side=True)
        self.port = self.listener.getsockname()[1]
        self.status_line = "HTTP/1.1 200 OK"
        self.requests = []
        threading.Thread(target=self.serve, daemon=True).start()

    def serve(self):
        while True:
            try:
                connection, _ = self.listener.accept()
            except OSError:
                return
            with connection:
                data = b""
                while b"\r\n\r\n" not in data:
                    chunk = connection.recv(4096)
                    if not chunk:
                        break
                    data += chunk
                self.requests.append(data.split(b"\r\n")[0].decode())
                connection.sendall(self.status_line.encode() +
                                   b"\r\nContent-Length: 5\r\n\r\nhello")
                # close_notify ends the body. The client may close the
                # connection without sending its own.
                try:
                    connection.unwrap()
                except OSError:
                    pass

    def close(self):
        self.listener.close()


def fetch(ctx, server, url, status_line="HTTP/1.1 200 OK"):
    server.status_line = status_line
    return ctx.connect("--cert", pki("leaves", "p256", "bundle.pem"), url,
                       env=NO_AGENT)


def status_lines(ctx, server):
    url = f"https://127.0.0.1:{server.port}/"
    for line, status in [
            ("HTTP/1.1 200 OK", 0),
            ("HTTP/1.0 204", 0),
            ("HTTP/1.1 404 Not Found", 7),
            # 4294967496 is 200 modulo 2^32, which sscanf's %d made of it.
            ("HTTP/1.1 4294967496 OK", 3),
            ("HTTP/1.1 -200 OK", 3),
            ("HTTP/1.1 2000 OK", 3),
            ("HTTP/1.1 099 Low", 3),
            ("HTTP/1.1  200 OK", 3),
            ("HTTP/11 200 OK", 3)]:
        result = fetch(ctx, server, url, line)
        check_status(result, status, f"status line {line!r}")
        if status == 3:
            check_in("invalid HTTP status line", result.stderr,
                     f"status line {line!r}")


def request_lines(ctx, server):
    base = f"https://127.0.0.1:{server.port}"
    for url, request in [
            (base + "/a/b?c=1#part", "GET /a/b?c=1 HTTP/1.0"),
            (base + "?q=1", "GET /?q=1 HTTP/1.0"),
            (base + "#top", "GET / HTTP/1.0"),
            ("HTTPS://127.0.0.1:%d/x" % server.port, "GET /x HTTP/1.0")]:
        before = len(server.requests)
        result = fetch(ctx, server, url)
        check_status(result, 0, url)
        check_equal(server.requests[before:], [request], f"request for {url}")


def invalid_targets(ctx):
    for target in ["https://127.0.0.1/a b", "https://127.0.0.1/a\r\nX: y",
                   "127.0.0.1: 443", "127.0.0.1:+443", "[[::1]]:443"]:
        result = ctx.connect("--insecure", target, env=NO_AGENT)
        check_status(result, 2, f"target {target!r}")
        check_in("invalid target", result.stderr, f"target {target!r}")


def test(ctx):
    server = HttpsServer()
    try:
        status_lines(ctx, server)
        request_lines(ctx, server)
        invalid_targets(ctx)
    finally:
        server.close()


run(test)
