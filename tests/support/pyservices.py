"""Small Python services for -sV tests, run inside a test's namespace.

`python_services(ns, directory, {port: kind})` serves each port with one kind:
* "http": Python's http.server (SimpleHTTPRequestHandler over `directory`),
  which nmap names `http` / `SimpleHTTPServer`;
* "https": the same through TLS (a self-signed certificate made with openssl);
* "banner:TEXT": sends TEXT at once, ends its side, reads until the client
  closes (an SSH banner, or one no probe matches);
* "silent": accepts and says nothing, keeps the connection open;
* "close": accepts and closes at once (what nmap calls tcpwrapped).
Every connection is served on its own thread; resets are ignored.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from tests.support.netns import Netns, _serving

_SCRIPT = r"""
import functools, http.server, socket, ssl, sys, threading

directory, cert, key = sys.argv[1:4]

def listener(port):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", port))
    s.listen(128)
    return s

def forever(sock, serve):
    def accept():
        while True:
            try:
                conn = sock.accept()[0]
            except OSError:
                continue
            threading.Thread(target=guarded, args=(serve, conn), daemon=True).start()
    threading.Thread(target=accept, daemon=True).start()

def guarded(serve, conn):
    try:
        serve(conn)
    except (OSError, ValueError):
        pass
    finally:
        try:
            conn.close()
        except OSError:
            pass

def banner(text, conn):
    conn.sendall(text)
    conn.shutdown(socket.SHUT_WR)
    while conn.recv(65536):
        pass

def silent(conn):
    while conn.recv(65536):
        pass

class Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass

def http_server(port, tls):
    handler = functools.partial(Quiet, directory=directory)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), handler)
    server.daemon_threads = True
    server.handle_error = lambda request, address: None  # resets from the port scan
    if tls:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(cert, key)
        # the handshake happens in the request thread, not in accept()
        server.socket = ctx.wrap_socket(server.socket, server_side=True,
                                        do_handshake_on_connect=False)
    threading.Thread(target=server.serve_forever, daemon=True).start()

for item in sys.argv[4:]:
    port, kind = item.split("=", 1)
    port = int(port)
    if kind in ("http", "https"):
        http_server(port, kind == "https")
    elif kind.startswith("banner:"):
        forever(listener(port), functools.partial(banner, kind[7:].encode("latin-1")))
    elif kind == "silent":
        forever(listener(port), silent)
    elif kind == "close":
        forever(listener(port), lambda conn: None)
    else:
        raise SystemExit(f"unknown kind {kind}")
print("ready", flush=True)
threading.Event().wait()
"""


def make_certificate(directory: Path) -> tuple[Path, Path]:
    """A self-signed certificate and its key (openssl req), for the https kind."""
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout",
                    str(key), "-out", str(cert), "-days", "2", "-subj", "/CN=localhost"],
                   check=True, capture_output=True, timeout=60)
    return cert, key


@contextmanager
def python_services(ns: Netns, directory: Path, kinds: Mapping[int, str]) -> Iterator[None]:
    """Serve `kinds` ({port: kind}, see the module docstring) on 127.0.0.1 in `ns`."""
    served = directory / "www"
    served.mkdir(exist_ok=True)
    cert, key = make_certificate(directory)
    args = [str(served), str(cert), str(key), *(f"{p}={k}" for p, k in kinds.items())]
    with _serving(ns, _SCRIPT, args, f"python services {dict(kinds)}"):
        yield
