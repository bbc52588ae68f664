#!/usr/bin/env python3
"""Small TCP services on 127.0.0.1 for the -sV captures (tools/capture_sv.py).

Started inside the capture namespace with one argument: a JSON list of
[port, kind, text] entries.  Kinds:

* banner: sends `text` (latin-1) on every connection, ends its side
  (shutdown SHUT_WR) and reads until the client closes.  A banner that a
  NULL-probe pattern matches is recognised at once; one that nothing
  matches answers every probe with the same data, which nmap records in a
  service fingerprint.
* quiet: accepts and says nothing; closes the connection as soon as the
  client sends anything.  nmap waits out its NULL probe, then sees every
  probe's connection closed without data: no match, no fingerprint.
* close: accepts and closes at once (nmap's `tcpwrapped`).
* http: Python's http.server (SimpleHTTPRequestHandler) over a scratch
  directory; `text` is that directory.
* https: the same behind the ssl module; `text` is "DIR:CERTFILE:KEYFILE".
* tlsbanner: a banner sent once a TLS handshake is done, then the end of
  TLS and of our side, and reads until the client closes; `text` is
  "CERTFILE:KEYFILE:BANNER".

Prints "ready" once every socket listens; runs until killed (by PID).
"""
import json
import selectors
import socket
import ssl
import sys
import threading
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 - http.server's name
        pass


class _Server(ThreadingHTTPServer):
    def handle_error(self, request, client_address):
        pass  # probes that are not HTTP (or not TLS) are expected


def _http(port, directory, context=None):
    server = _Server(("127.0.0.1", port), partial(_Quiet, directory=directory))
    if context is not None:
        # the handshake happens in the handler thread, on first read
        server.socket = context.wrap_socket(server.socket, server_side=True,
                                            do_handshake_on_connect=False)
    threading.Thread(target=server.serve_forever, daemon=True).start()


def _tls_banner(port, context, banner):
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", port))
    listener.listen(1024)

    def serve(conn):
        try:
            tls = context.wrap_socket(conn, server_side=True)
            tls.sendall(banner)
            # close_notify and the end of our side: the client sees the end of the
            # data at once, as from the plain banners
            plain = tls.unwrap()
            plain.shutdown(socket.SHUT_WR)
            while plain.recv(65536):
                pass
            plain.close()
        except (OSError, ssl.SSLError):
            conn.close()

    def accept():
        while True:
            conn = listener.accept()[0]
            threading.Thread(target=serve, args=(conn,), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()


def main():
    entries = json.loads(sys.argv[1])
    sel = selectors.DefaultSelector()
    for port, kind, text in entries:
        if kind == "http":
            _http(port, text)
            continue
        if kind == "https":
            directory, cert, key = text.split(":")
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(cert, key)
            _http(port, directory, context)
            continue
        if kind == "tlsbanner":
            cert, key, banner = text.split(":", 2)
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(cert, key)
            _tls_banner(port, context, banner.encode("latin-1"))
            continue
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", port))
        s.listen(1024)
        s.setblocking(False)
        sel.register(s, selectors.EVENT_READ, ("listen", kind, text.encode("latin-1")))
    print("ready", flush=True)
    while True:
        for key, _ in sel.select():
            role, kind, data = key.data
            sock = key.fileobj
            if role == "listen":
                try:
                    conn = sock.accept()[0]
                except OSError:
                    continue
                if kind == "close":
                    conn.close()
                    continue
                if kind == "banner":
                    try:
                        conn.sendall(data)
                        conn.shutdown(socket.SHUT_WR)
                    except OSError:
                        conn.close()
                        continue
                conn.setblocking(False)
                sel.register(conn, selectors.EVENT_READ, ("conn", kind, b""))
                continue
            try:
                got = sock.recv(65536)
            except OSError:
                got = b""
            if not got or kind == "quiet":
                sel.unregister(sock)
                sock.close()


if __name__ == "__main__":
    main()
