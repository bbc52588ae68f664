#!/usr/bin/env python3
"""Capture nmap 7.93's version detection (-sV) output into ../service/.

Run as root from the repository root, with the test virtualenv:

    .venv/bin/python tests/reference/tools/capture_sv.py          # all cases
    .venv/bin/python tests/reference/tools/capture_sv.py sv sv_v  # some

Each case builds a fresh network namespace (tests.support.netns: only `lo`,
a resolver that answers nothing, /etc/hosts with `127.0.0.1 localhost`),
starts the services of SERVICES in it (tools/sv_services.py), runs nmap
there unprivileged (NMAP_UNPRIVILEGED=1, TZ=UTC, argv[0] "pynmap", as the
differential tests run it) in a scratch directory, and stores `cmd`,
`stdout`, `stderr`, `exit` and the files of -oA (`base.nmap`,
`base.gnmap`, `base.xml`) in service/<case>/.  Before storing, each run is
checked against what the services are (CHECKS: the service each port must
show); a run that disagrees is an error, not a capture.

The certificate of the TLS service is made with openssl in the scratch
directory.  Nothing is scanned but 127.0.0.1-2 (and one unrouted
198.18.0.1) inside the namespace.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]
sys.path.insert(0, str(ROOT))

from tests.support.netns import _serving, netns, run_nmap  # noqa: E402

OUT = HERE.parent / "service"

# An Axis camera ftpd banner (nmap-service-probes: p/Axis $1 Network Camera
# ftpd/ v/$2/ i/$3/ d/webcam/ cpe:/h:...): its extrainfo is long enough to be
# cut with "..." in the VERSION column (160 bytes at most).
LONG_INFO = "firmware build " + "x" * 185
# 122 characters: exactly what is left for extrainfo after "Axis 2100
# Network Camera ftpd 2.43 (", so nmap drops the closing parenthesis.
EDGE_INFO = "edge-" + "y" * 117
# AXIS Video Server ftpd (p/AXIS $1 Video Server ftpd/ v/$2/ i/$3/, no cpe):
# a 78-character product and a 75-character version leave no room for the
# extrainfo, which the VERSION column then leaves out.
LONG_MODEL = "1" * 55
LONG_VERSION = "7." + "8" * 73

# (port, kind, text) for tools/sv_services.py, and the service each shows.
SERVICES: list[tuple[int, str, str]] = [
    (21, "banner", "220 (vsFTPd 3.0.3)\r\n"),
    (22, "banner", "SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n"),
    (25, "banner", "220 mail.example.test ESMTP Exim 4.96 Mon, 07 Dec 2026 03:00:00 +0000\r\n"),
    # the host's own PTR name in other case: not repeated in Service Info
    (587, "banner", "220 LocalHost ESMTP Exim 4.96 Mon, 07 Dec 2026 03:00:00 +0000\r\n"),
    (2121, "banner", f"220 Axis 2100 Network Camera 2.43 ({LONG_INFO}) ready.\r\n"),
    (2122, "banner", f"220 Axis 2100 Network Camera 2.43 ({EDGE_INFO}) ready.\r\n"),
    (2123, "banner", f"220 AXIS {LONG_MODEL} Video Server {LONG_VERSION} more info ready.\r\n"),
    (2124, "banner", "220 OKI-C5300 Version 1.2 ready.\r\n"),
    (2525, "banner", "220 relay.example.test ESMTP Exim 4.94.2 Mon, 07 Dec 2026 03:00:00 +0000\r\n"),
    (3306, "close", ""),
    (8000, "http", "{www}"),
    (8443, "https", "{www}:{cert}:{key}"),
    (8080, "banner", "zq9 k7\r\n"),
    (9929, "quiet", ""),
    (33306, "banner", "\x01\x02pynmap \xff says hi/0.1\r\n"),
    # an unrecognised service behind TLS: "ssl/" before its name, a %T=SSL fingerprint
    (44330, "tlsbanner", "{cert}:{key}:zq9 tls k7\r\n"),
]
PORTS = ",".join(str(p) for p, _, _ in SERVICES)

# What the normal output's SERVICE column must say for each open port.
CHECKS = {
    21: "ftp", 22: "ssh", 25: "smtp", 587: "smtp", 2121: "ftp", 2122: "ftp", 2123: "ftp",
    2124: "ftp", 2525: "smtp", 3306: "tcpwrapped", 8000: "http", 8443: "ssl/http",
    8080: "http-proxy?", 9929: "nping-echo?", 33306: "unknown", 44330: "ssl/unknown",
}

# Unrecognised services only: nmap keeps at most nine fingerprints.
MANY = [(40000 + i, "banner", f"zq9 k7 number {i}\r\n") for i in range(10)]

CASES = {
    "sv": (SERVICES, ["-sT", "-sV", "-p", PORTS, "-oA", "base", "127.0.0.1"]),
    "sv_v": (SERVICES, ["-sT", "-sV", "-v", "-p", PORTS, "-oA", "base", "127.0.0.1"]),
    # -vv: "Scanned at", the REASON column (implied) before VERSION
    "sv_vv": (SERVICES, ["-sT", "-sV", "-vv", "-p", "21,22,25,8080,44330", "-oA", "base",
                         "127.0.0.1"]),
    "sv_reason_hosts": (SERVICES, ["-sT", "-sV", "--reason", "-p", PORTS, "-oA", "base",
                                   "127.0.0.1-2"]),
    "sv_many_fingerprints": (MANY, ["-sT", "-sV", "-Pn", "-n", "-p",
                                    ",".join(str(p) for p, _, _ in MANY), "-oA", "base",
                                    "127.0.0.1"]),
    # normal and grepable output share stdout: their writes interleave as nmap makes
    # them (the XML file holds the facts)
    "sv_shared_stdout": (SERVICES, ["-sT", "-sV", "-p", "21,22,25,2124,8080", "-oN", "-", "-oG",
                                    "-", "-oX", "base.xml", "127.0.0.1"]),
    # -oN to the file stdout is: nmap's flushes (after the port table, after the
    # Service Info line) decide the order of the two copies
    "sv_same_file": (SERVICES, ["-sT", "-sV", "-p", "21,22,25", "-oN", "/dev/stdout", "-oX",
                                "base.xml", "127.0.0.1"]),
    # two hosts down: no closing note (one down host would get the "Host seems down" note)
    "sv_host_down": (SERVICES[:2], ["-sT", "-sV", "-p", "21,22", "-oA", "base",
                                    "198.18.0.1-2"]),
}
FILES = ("base.nmap", "base.gnmap", "base.xml")


def _certificate(scratch: Path) -> tuple[Path, Path]:
    cert, key = scratch / "cert.pem", scratch / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", "/CN=localhost", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True)
    return cert, key


def _check(name: str, services: list[tuple[int, str, str]], stdout: str) -> None:
    if name in ("sv_shared_stdout", "sv_same_file", "sv_vv"):
        stdout = "\n".join(line.partition("Host: 127.0.0.1 (localhost)")[0]
                           for line in stdout.splitlines())
        services = [s for s in services if s[0] in (21, 22, 25, 2124, 8080, 44330)]
        for port, _, _ in services:
            if f"-p {port}" in " ".join(CASES[name][1]) or f",{port}" in " ".join(CASES[name][1]):
                assert re.search(rf"^{port}/tcp +open +{re.escape(CHECKS[port])}", stdout,
                                 re.M), stdout
        return
    if name == "sv_host_down":
        assert "0 hosts up" in stdout, stdout
        return
    # 40000 has a name in nmap-services, which an unrecognised service keeps with a "?"
    expect = CHECKS if services is SERVICES else {
        p: "safetynetp?" if p == 40000 else "unknown" for p, _, _ in services}
    for port, service in expect.items():
        found = re.search(rf"^{port}/tcp +open +(\S+)", stdout, re.M)
        assert found is not None and found.group(1) == service, (name, port, stdout)


def capture(name: str) -> None:
    services, args = CASES[name]
    with tempfile.TemporaryDirectory(prefix="capture-sv-") as tmp:
        scratch = Path(tmp)
        www = scratch / "www"
        www.mkdir()
        (www / "index.html").write_text("<html><title>pynmap</title></html>\n")
        cert, key = _certificate(scratch)
        entries = [[port, kind, text.format(www=www, cert=cert, key=key)]
                   for port, kind, text in services]
        script = (HERE / "sv_services.py").read_text()
        work = scratch / "work"
        work.mkdir()
        with netns("pynmap-cap") as ns, _serving(ns, script, [json.dumps(entries)],
                                                 "the -sV services"):
            result = run_nmap(args, ns, work, timeout=600)
        assert result.exit == 0, result
        _check(name, services, result.stdout)
        target = OUT / name
        shutil.rmtree(target, ignore_errors=True)
        target.mkdir(parents=True)
        (target / "cmd").write_text(" ".join(["pynmap", *args]) + "\n")
        (target / "stdout").write_text(result.stdout, errors="surrogateescape")
        (target / "stderr").write_text(result.stderr, errors="surrogateescape")
        (target / "exit").write_text(f"{result.exit}\n")
        for file in FILES:
            if (work / file).exists():
                shutil.copy(work / file, target / file)
    print(f"{name}: captured", flush=True)


def main(names: list[str]) -> None:
    for name in names or list(CASES):
        capture(name)


if __name__ == "__main__":
    main(sys.argv[1:])
