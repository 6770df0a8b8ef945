#!/usr/bin/python3
"""certpick connect against an HTTPS server that replies with a chosen
status line. Only a status line of RFC 9112 with a code of 100-599 is
accepted. The request line carries the URL's path and query but not its
fragment, and the Host header an IPv6 address in brackets. The client
presents a local --cert, so certpickd is not involved."""

import os
import socket
import ssl
import threading

from clienttest import check_equal, check_in, check_status, pki, run

NO_AGENT = {"CERTPICK_SOCKET": "/nonexistent/socket",
            "CERTPICKD": "/nonexistent/certpickd"}


class HttpsServer:
    """A TLS server on loopback that replies to every request with its
    status_line, and records the request lines and Host headers."""

    def __init__(self, address="127.0.0.1"):
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(pki("server", "cert.pem"),
                                pki("server", "key.pem"))
        family = socket.AF_INET6 if ":" in address else socket.AF_INET
        self.listener = context.wrap_socket(
            socket.create_server((address, 0), family=family),
            server_side=True)
        self.port = self.listener.getsockname()[1]
        self.status_line = "HTTP/1.1 200 OK"
        self.requests = []
        self.hosts = []
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
                lines = data.decode().split("\r\n")
                self.requests.append(lines[0])
                self.hosts.extend(line[len("Host: "):] for line in lines
                                  if line.startswith("Host: "))
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


def host_headers(ctx, server, server6):
    for url, host in [
            (f"https://127.0.0.1:{server.port}/", f"127.0.0.1:{server.port}"),
            (f"https://localhost:{server.port}/", f"localhost:{server.port}"),
            (f"https://[::1]:{server6.port}/", f"[::1]:{server6.port}")]:
        target = server6 if "[" in url else server
        before = len(target.hosts)
        result = fetch(ctx, target, url)
        check_status(result, 0, url)
        check_equal(target.hosts[before:], [host], f"Host header for {url}")


def invalid_targets(ctx):
    for target in ["https://127.0.0.1/a b", "https://127.0.0.1/a\r\nX: y",
                   "127.0.0.1: 443", "127.0.0.1:+443", "[[::1]]:443"]:
        result = ctx.connect("--insecure", target, env=NO_AGENT)
        check_status(result, 2, f"target {target!r}")
        check_in("invalid target", result.stderr, f"target {target!r}")


def test(ctx):
    server = HttpsServer()
    server6 = HttpsServer("::1")
    try:
        status_lines(ctx, server)
        request_lines(ctx, server)
        host_headers(ctx, server, server6)
        invalid_targets(ctx)
    finally:
        server.close()
        server6.close()


run(test)
