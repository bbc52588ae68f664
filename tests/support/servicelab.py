"""The service lab: real daemons in a namespace, for version detection (-sV) against nmap.

    PREFIX-scan   s0 198.18.255.1/30 ---- veth ---- eth0 198.18.255.2/30  PREFIX-svc
                  s1 198.18.255.5/30 -- PREFIX-link -- eth1 198.18.255.6/30
                     (delaylink: 25 ms each way)     lo: 198.18.0.10, .11, .12

The scanner reaches MAIN (198.18.0.10) and FADING (.12) over a plain veth
and SLOW (.11) through the lab's userspace link (tests/support/lab/delaylink),
so SLOW's services answer 50 ms after each question and the others at once.
Every daemon runs in the one target namespace, bound to its host's
address, in its foreground mode, with its configuration, keys, logs and
state in a temporary directory (nothing under /etc is read or written but
the namespace's own resolv.conf and hosts), as root:

    MAIN    21 vsftpd, 22 OpenSSH, 25 Exim, 80 nginx, 443 nginx over TLS
            (a certificate made at start-up), 6379 redis, 8000 Python's
            http.server, 11211 memcached; 7001 accepts and never says
            anything, 7002 accepts and closes at once (tcpwrapped), 7003
            greets every connection with a banner no probe matches, 7004
            says nothing and hangs up on whatever it is sent
    SLOW    22 OpenSSH, 80 nginx (the same daemons, one more address)
    FADING  22 OpenSSH, 7010: says nothing; once one of its connections
            has stayed open TRIGGER_S (a service scan's NULL probe; a port
            scan closes at once), it drops every later connection attempt
            to FADING (iptables, --syn): the host goes silent in the middle
            of a service scan.  It hangs up HANGUP_S after each accept, past
            nmap's 3 s tcpwrapped limit and before its 6 s NULL wait, so the
            next probe needs a new connection at once and that one times out

Each service declares what nmap's -sV must report for it (`Truth`), the
packaged daemons' versions read from dpkg.  A daemon that cannot start
makes `up()` raise ServiceLabError with the end of its log; `down()`
leaves no process, namespace, /etc/netns entry or temporary file behind.

    python -m tests.support.servicelab up|down   # by hand, as root, from the repository
"""

from __future__ import annotations

import contextlib
import functools
import http.server
import itertools
import os
import platform
import re
import selectors
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from lxml import etree

from tests.support.lab.listeners import inside
from tests.support.lab.network import _OFFLOADS, _batch, _in, lab_namespaces, remove
from tests.support.netns import (
    HOSTS,
    NAMESERVER,
    Netns,
    NetnsUnavailable,
    in_ci,
    stop_processes,
)

ROOT = Path(__file__).resolve().parents[2]
MAIN, SLOW, FADING = "198.18.0.10", "198.18.0.11", "198.18.0.12"
NAMES = {MAIN: "main", SLOW: "slow", FADING: "fading"}
SCANNER, UPLINK = "198.18.255.1", "198.18.255.2"
SCANNER_SLOW, UPLINK_SLOW = "198.18.255.5", "198.18.255.6"
# fixed hardware addresses on the delayed path: its neighbour entries are pinned,
# so no ARP exchange waits on the link
SCANNER_SLOW_MAC, UPLINK_SLOW_MAC = "02:00:c6:12:ff:05", "02:00:c6:12:ff:06"
DELAY_MS = 25  # one way: a 50 ms round trip to SLOW
TRIGGER_S = 1.0
HANGUP_S = 4.0
SMTP_HOST = "mail.svlab.test"
BANNER = "zq9 k7 svlab\r\n"  # what no match line of nmap-service-probes matches
SBIN = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
NMAP_SERVICES = Path("/usr/share/nmap/nmap-services")
PRIVSEP_DIR = Path("/run/sshd")  # compiled into Debian's sshd; its init script makes it
START_TIMEOUT = 20.0

_serial = itertools.count()


class ServiceLabError(RuntimeError):
    """A daemon of the lab could not be started (or its package is missing)."""


# -- what nmap must report ----------------------------------------------------------------


@dataclass(frozen=True)
class Truth:
    """What nmap's -sV reports for a service: its XML <service> and <cpe>s.

    `extrainfo` is a regular expression (memcached's holds its uptime).
    `method` "table" means not identified: the name is nmap-services' guess,
    printed with a "?", and `fingerprint` says whether nmap shows the data
    it got (an SF-Port block, servicefp)."""

    name: str
    product: str | None = None
    version: str | None = None
    extrainfo: str | None = None
    hostname: str | None = None
    ostype: str | None = None
    tunnel: str | None = None
    method: str = "probed"
    cpe: tuple[str, ...] = ()
    fingerprint: bool = False


@dataclass(frozen=True)
class Service:
    label: str
    address: str
    port: int
    truth: Truth


def package_version(package: str) -> str:
    """The installed Debian version of `package` ("1:9.2p1-2+deb12u10")."""
    done = subprocess.run(["dpkg-query", "-W", "-f=${Version}", package],
                          capture_output=True, text=True, timeout=30, check=False)
    if done.returncode != 0 or not done.stdout:
        raise ServiceLabError(f"package {package} is not installed (tests/run.sh installs it)")
    return done.stdout


def upstream(version: str) -> str:
    """The upstream part of a Debian version: no epoch, no Debian revision."""
    return version.split(":", 1)[-1].rsplit("-", 1)[0]


def table_name(port: int) -> str:
    """nmap's own name for a TCP port (its nmap-services), what -sV falls back to."""
    for line in NMAP_SERVICES.read_text().splitlines():
        fields = line.split()
        if len(fields) >= 2 and fields[1] == f"{port}/tcp":
            return fields[0]
    return "unknown"


def _unknown(port: int, *, fingerprint: bool = False) -> Truth:
    return Truth(table_name(port), method="table", fingerprint=fingerprint)


@functools.cache
def services() -> tuple[Service, ...]:
    """Every service of the lab and what nmap must say about it."""
    ssh = package_version("openssh-server")
    ssh_version = f"{upstream(ssh)} Debian {ssh.rsplit('-', 1)[1]}"
    ftp = upstream(package_version("vsftpd"))
    smtp = upstream(package_version("exim4-base"))  # under either daemon package
    web = upstream(package_version("nginx"))
    redis = upstream(package_version("redis-server"))
    cache = upstream(package_version("memcached"))
    openssh = Truth("ssh", "OpenSSH", ssh_version, re.escape("protocol 2.0"), ostype="Linux",
                    cpe=(f"cpe:/a:openbsd:openssh:{upstream(ssh)}", "cpe:/o:linux:linux_kernel"))
    nginx = Truth("http", "nginx", web, cpe=(f"cpe:/a:igor_sysoev:nginx:{web}",))
    python = Truth("http", "SimpleHTTPServer", http.server.__version__,
                   re.escape(f"Python {platform.python_version()}"),
                   cpe=(f"cpe:/a:python:simplehttpserver:{http.server.__version__}",))
    return (
        Service("vsftpd", MAIN, 21, Truth("ftp", "vsftpd", ftp, ostype="Unix",
                                          cpe=(f"cpe:/a:vsftpd:vsftpd:{ftp}",))),
        Service("openssh", MAIN, 22, openssh),
        Service("exim", MAIN, 25, Truth("smtp", "Exim smtpd", smtp, hostname=SMTP_HOST,
                                        cpe=(f"cpe:/a:exim:exim:{smtp}",))),
        Service("nginx", MAIN, 80, nginx),
        Service("nginx-tls", MAIN, 443, Truth(
            "http", "nginx", web, tunnel="ssl", cpe=(f"cpe:/a:igor_sysoev:nginx:{web}",))),
        Service("redis", MAIN, 6379, Truth("redis", "Redis key-value store", redis,
                                           cpe=(f"cpe:/a:redislabs:redis:{redis}",))),
        Service("http.server", MAIN, 8000, python),
        Service("memcached", MAIN, 11211, Truth("memcached", "Memcached", cache,
                                                r"uptime \d+ seconds",
                                                cpe=(f"cpe:/a:memcached:memcached:{cache}",))),
        Service("silent", MAIN, 7001, _unknown(7001)),
        Service("tcpwrapped", MAIN, 7002, Truth("tcpwrapped")),
        Service("unmatched", MAIN, 7003, _unknown(7003, fingerprint=True)),
        Service("hush", MAIN, 7004, _unknown(7004)),
        Service("openssh-slow", SLOW, 22, openssh),
        Service("nginx-slow", SLOW, 80, nginx),
        # no web server there: nmap's version scripts (NSE) would wait on it for seconds
        Service("openssh-fading", FADING, 22, openssh),
        # nmap calls a service tcpwrapped unless some probe got data or timed out
        # (tcpwrap_possible): here the NULL probe ends in a hang-up without data and
        # the next connection times out, which nmap ends the service with
        Service("fading", FADING, 7010, Truth("tcpwrapped")),
    )


# Every service of MAIN and SLOW but the one that never answers (nmap would wait
# out five seconds for each of its dozens of probes): one wide scan's worth
WIDE = ("vsftpd", "openssh", "exim", "nginx", "nginx-tls", "redis", "http.server", "memcached",
        "tcpwrapped", "unmatched", "hush", "openssh-slow", "nginx-slow")


def pick(*labels: str) -> tuple[Service, ...]:
    """The services with these labels, in the order given."""
    by_label = {s.label: s for s in services()}
    return tuple(by_label[label] for label in labels)


def port_list(chosen: Sequence[Service]) -> str:
    return ",".join(str(p) for p in sorted({s.port for s in chosen}))


def _root(xml: str) -> etree._Element:
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
    return etree.fromstring(xml.encode("utf-8", "surrogateescape"), parser)


def reported(xml: str) -> dict[tuple[str, int], dict[str, object]]:
    """(address, port) -> state and <service> attributes (and "cpe": list) of each listed port."""
    found: dict[tuple[str, int], dict[str, object]] = {}
    for host in _root(xml).iter("host"):
        address = host.find("address").get("addr")
        for port in host.iter("port"):
            service = port.find("service")
            attributes: dict[str, object] = dict(service.attrib) if service is not None else {}
            attributes["state"] = port.find("state").get("state")
            attributes["cpe"] = [c.text for c in port.iter("cpe")]
            found[(address, int(port.get("portid")))] = attributes
    return found


def truth_problems(xml: str, chosen: Sequence[Service]) -> list[str]:
    """How an -oX file disagrees with what `chosen` declare; empty when it agrees."""
    found = reported(xml)
    problems: list[str] = []
    for address in sorted({s.address for s in chosen}):
        # nothing else of the lab listens: the open ports are exactly the declared ones
        declared = {s.port for s in chosen if s.address == address}
        listed = {port for (a, port), got in found.items() if a == address
                  and got["state"] == "open"}
        if listed != declared:
            problems.append(f"{address}: open ports {sorted(listed)}, declared {sorted(declared)}")
    for service in chosen:
        where = f"{service.label} ({service.address}:{service.port})"
        got = found.get((service.address, service.port))
        if got is None:
            problems.append(f"{where}: not in the report")
            continue
        truth = service.truth
        want: dict[str, object] = {
            "state": "open", "name": truth.name, "product": truth.product,
            "version": truth.version, "hostname": truth.hostname, "ostype": truth.ostype,
            "tunnel": truth.tunnel, "method": truth.method, "cpe": list(truth.cpe),
        }
        for key, value in want.items():
            if got.get(key) != value:
                problems.append(f"{where}: {key} is {got.get(key)!r}, declared {value!r}")
        extrainfo = got.get("extrainfo")
        if truth.extrainfo is None and extrainfo is not None:
            problems.append(f"{where}: extrainfo {extrainfo!r}, declared none")
        if truth.extrainfo is not None and not re.fullmatch(truth.extrainfo, str(extrainfo)):
            problems.append(f"{where}: extrainfo {extrainfo!r} does not match {truth.extrainfo!r}")
        if ("servicefp" in got) != truth.fingerprint:
            problems.append(f"{where}: servicefp {'absent' if truth.fingerprint else 'present'}")
    return problems


# memcached's answer carries its uptime in seconds, which differs between two runs
_UPTIME = re.compile(r"\buptime \d+ seconds\b")


def lab_mask(text: str) -> str:
    """What differs between two runs in this lab, beyond tests.support.mask: uptimes."""
    return _UPTIME.sub("uptime <n> seconds", text)


# -- the network and the daemons -------------------------------------------------------------


def vsftpd_config(workdir: Path, name: str, address: str, port: int, *,
                  ftp_user: str = "nobody", extra: Sequence[str] = ()) -> Path:
    """Write `name`.conf in `workdir` for a vsftpd in the foreground on address:port, whose
    anonymous user (`ftp_user`'s rights) sees the empty `workdir`/empty, and return its path;
    `extra`: more `option=value` lines (they win over the ones here)."""
    conf = workdir / f"{name}.conf"
    conf.write_text(
        f"listen=YES\nlisten_ipv6=NO\nlisten_address={address}\nlisten_port={port}\n"
        f"background=NO\nanonymous_enable=YES\nanon_root={workdir}/empty\n"
        f"ftp_username={ftp_user}\nlocal_enable=NO\nsecure_chroot_dir={workdir}/empty\n"
        f"seccomp_sandbox=NO\nisolate=NO\nisolate_network=NO\nxferlog_enable=NO\n"
        f"vsftpd_log_file={workdir}/logs/{name}-transfers.log\n"
        + "".join(f"{line}\n" for line in extra))
    return conf


@dataclass
class ServiceLab:
    """The lab under one name prefix; `scanner` is where nmap and pynmap run."""

    prefix: str = field(default_factory=lambda: f"sv{os.getpid()}-{next(_serial)}")
    workdir: Path | None = None
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    made_privsep_dir: bool = False

    @property
    def scanner(self) -> Netns:
        return Netns(f"{self.prefix}-scan")

    @property
    def link(self) -> Netns:
        return Netns(f"{self.prefix}-link")

    @property
    def targets(self) -> Netns:
        return Netns(f"{self.prefix}-svc")

    @property
    def namespaces(self) -> list[Netns]:
        return [self.scanner, self.link, self.targets]

    def leftovers(self) -> list[str]:
        """Whatever of this lab is still on the machine (namespaces, /etc/netns entries)."""
        return lab_namespaces(self.prefix)

    # -- up ---------------------------------------------------------------------------------
    def up(self) -> None:
        """Build the network and start every daemon; raises NetnsUnavailable for the
        network, ServiceLabError for a daemon."""
        if os.geteuid() != 0:
            raise NetnsUnavailable("the service lab needs root")
        remove(self.prefix)
        try:
            self._network()
            self.workdir = Path(tempfile.mkdtemp(prefix=f"pynmap-{self.prefix}-"))
            # daemons that drop privileges must still reach their files below it
            self.workdir.chmod(0o755)
            for sub in ("logs", "empty", "www", "nginx", "exim/spool", "exim/log", "redis"):
                (self.workdir / sub).mkdir(parents=True)
            self._start()
            self._wait_ready()
        except BaseException:
            self.down()
            raise

    def _network(self) -> None:
        for ns in self.namespaces:
            # before the first `ip netns exec`, which bind-mounts them
            ns.etc.mkdir(parents=True, exist_ok=True)
            (ns.etc / "resolv.conf").write_text(f"nameserver {NAMESERVER}\n")
            (ns.etc / "hosts").write_text(HOSTS)
        # without -n both programs look the targets' names up: the hosts file holds
        # them, so no query waits for a DNS server that is not there
        with (self.scanner.etc / "hosts").open("a") as hosts:
            hosts.write("".join(f"{a} {n}.svlab.test\n" for a, n in NAMES.items()))
        _batch(None, [f"netns add {ns.name}" for ns in self.namespaces])
        scan, link, svc = self.scanner, self.link, self.targets
        _batch(scan, [
            "link set lo up",
            f"link add s0 type veth peer name eth0 netns {svc.name}",
            f"addr add {SCANNER}/30 dev s0",
            "link set s0 up",
            f"link add s1 address {SCANNER_SLOW_MAC} type veth peer name ls netns {link.name}",
            f"addr add {SCANNER_SLOW}/30 dev s1",
            "link set s1 up",
            f"neigh replace {UPLINK_SLOW} lladdr {UPLINK_SLOW_MAC} dev s1 nud permanent",
            f"route add {MAIN}/32 via {UPLINK}",
            f"route add {FADING}/32 via {UPLINK}",
            f"route add {SLOW}/32 via {UPLINK_SLOW}",
        ])
        _batch(svc, [
            "link set lo up",
            *(f"addr add {a}/32 dev lo" for a in (MAIN, SLOW, FADING)),
            f"addr add {UPLINK}/30 dev eth0",
            "link set eth0 up",
            f"link add eth1 address {UPLINK_SLOW_MAC} type veth peer name lr netns {link.name}",
            f"addr add {UPLINK_SLOW}/30 dev eth1",
            "link set eth1 up",
            f"neigh replace {SCANNER_SLOW} lladdr {SCANNER_SLOW_MAC} dev eth1 nud permanent",
        ])
        _batch(link, ["link set lo up", "link set ls up", "link set lr up"])
        # frames copied through a packet socket must carry finished checksums
        for ns, dev in ((scan, "s1"), (link, "ls"), (link, "lr"), (svc, "eth1")):
            _in(ns, "ethtool", "-K", dev, *_OFFLOADS)

    def _tool(self, name: str) -> str:
        found = shutil.which(name, path=SBIN)
        if found is None:
            raise ServiceLabError(f"{name} is not installed (tests/run.sh installs it)")
        return found

    def _spawn(self, label: str, ns: Netns, command: Sequence[str], *,
               ready_line: bool = False) -> None:
        assert self.workdir is not None
        log = (self.workdir / "logs" / f"{label}.log").open("wb")
        env = {"PATH": SBIN, "HOME": str(self.workdir), "LANG": "C.UTF-8",
               "PYTHONPATH": str(ROOT)}
        with log:
            proc = subprocess.Popen([*ns.exec_prefix(), *command], cwd=self.workdir, env=env,
                                    stdin=subprocess.DEVNULL, stderr=log,
                                    stdout=subprocess.PIPE if ready_line else log)
        self.processes[label] = proc
        if ready_line:
            assert proc.stdout is not None
            if proc.stdout.readline() != b"ready\n":
                raise ServiceLabError(f"{label} did not start:\n{self.log_tail(label)}")

    def log_tail(self, label: str, lines: int = 15) -> str:
        assert self.workdir is not None
        path = self.workdir / "logs" / f"{label}.log"
        text = path.read_text(errors="replace") if path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def _start(self) -> None:
        wd = self.workdir
        assert wd is not None
        (wd / "www" / "index.html").write_text("<html><body>svlab</body></html>\n")
        for path in (wd / "empty", wd / "www"):
            path.chmod(0o755)
        svc = self.targets
        self._spawn("delaylink", self.link,
                    [sys.executable, "-m", "tests.support.lab.delaylink", "ls", "lr",
                     "--delay-ms", str(DELAY_MS)], ready_line=True)

        # OpenSSH: a host key of its own, made now
        subprocess.run([self._tool("ssh-keygen"), "-q", "-t", "ed25519", "-N", "", "-C", "svlab",
                        "-f", str(wd / "ssh_host_ed25519_key")], check=True, timeout=60,
                       capture_output=True)
        (wd / "sshd_config").write_text(
            "".join(f"ListenAddress {a}:22\n" for a in (MAIN, SLOW, FADING))
            + f"HostKey {wd}/ssh_host_ed25519_key\nPidFile none\nUsePAM no\n")
        if not PRIVSEP_DIR.is_dir():
            PRIVSEP_DIR.mkdir(mode=0o755)
            self.made_privsep_dir = True
        self._spawn("openssh", svc, [self._tool("sshd"), "-D", "-e", "-f", str(wd / "sshd_config")])

        # vsftpd: anonymous login on (else it names itself "broken" and no version)
        conf = vsftpd_config(wd, "vsftpd", MAIN, 21)
        self._spawn("vsftpd", svc, [self._tool("vsftpd"), str(conf)])

        # Exim: a config of our own; it takes no mail (every RCPT is denied)
        (wd / "exim.conf").write_text(
            f"primary_hostname = {SMTP_HOST}\ndaemon_smtp_ports = 25\n"
            f"local_interfaces = {MAIN}\nspool_directory = {wd}/exim/spool\n"
            f"log_file_path = {wd}/exim/log/%slog\npid_file_path = {wd}/exim/exim.pid\n"
            "exim_user = root\nexim_group = root\nnever_users =\nkeep_environment =\n"
            "tls_advertise_hosts =\nacl_smtp_rcpt = acl_check_rcpt\n"
            "begin acl\nacl_check_rcpt:\n  deny\nbegin routers\nbegin transports\n")
        self._spawn("exim", svc, [self._tool("exim4"), "-C", str(wd / "exim.conf"), "-bdf"])

        # nginx over HTTP and over TLS, with a certificate made now
        subprocess.run([self._tool("openssl"), "req", "-x509", "-newkey", "ec", "-pkeyopt",
                        "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2",
                        "-subj", "/CN=svlab.test", "-keyout", str(wd / "tls.key"),
                        "-out", str(wd / "tls.crt")], check=True, timeout=60,
                       capture_output=True)
        temps = "".join(f"  {kind}_temp_path {wd}/nginx/{kind};\n"
                        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
        (wd / "nginx.conf").write_text(
            f"pid {wd}/nginx/nginx.pid;\nerror_log {wd}/logs/nginx-error.log;\n"
            "events { worker_connections 256; }\n"
            f"http {{\n  access_log off;\n{temps}"
            f"  server {{ listen {MAIN}:80; listen {SLOW}:80; "
            f"root {wd}/www; }}\n"
            f"  server {{ listen {MAIN}:443 ssl; ssl_certificate {wd}/tls.crt; "
            f"ssl_certificate_key {wd}/tls.key; root {wd}/www; }}\n}}\n")
        self._spawn("nginx", svc, [self._tool("nginx"), "-e", f"{wd}/logs/nginx-error.log",
                                   "-p", f"{wd}/nginx", "-c", str(wd / "nginx.conf"),
                                   "-g", "daemon off; master_process off;"])

        self._spawn("redis", svc, [self._tool("redis-server"), "--port", "6379", "--bind", MAIN,
                                   "--daemonize", "no", "--protected-mode", "no", "--save", "",
                                   "--appendonly", "no", "--dir", str(wd / "redis"),
                                   "--logfile", ""])
        self._spawn("memcached", svc, [self._tool("memcached"), "-l", MAIN, "-p", "11211",
                                       "-U", "0", "-u", "root"])
        self._spawn("http.server", svc, [sys.executable, "-m", "http.server", "--bind", MAIN,
                                         "--directory", str(wd / "www"), "8000"])
        self._spawn("talkers", svc, [sys.executable, "-m", "tests.support.servicelab", "serve",
                                     f"silent,{MAIN},7001", f"wrapped,{MAIN},7002",
                                     f"babble,{MAIN},7003", f"hush,{MAIN},7004",
                                     f"fading,{FADING},7010"], ready_line=True)

    def _wait_ready(self) -> None:
        """Every service answers a connection from the scanner, or the lab fails."""
        pending = {(s.address, s.port): s for s in services()}
        deadline = time.monotonic() + START_TIMEOUT
        with inside(self.scanner.name):
            while pending:
                for label, proc in self.processes.items():
                    if proc.poll() is not None:
                        raise ServiceLabError(f"{label} exited with status {proc.returncode}:\n"
                                              f"{self.log_tail(label)}")
                for key in list(pending):
                    with contextlib.suppress(OSError), socket.create_connection(key, timeout=1):
                        del pending[key]
                if pending and time.monotonic() > deadline:
                    missing = ", ".join(f"{s.label} ({a}:{p})" for (a, p), s in pending.items())
                    raise ServiceLabError(f"not answering after {START_TIMEOUT:g} s: {missing}")
                if pending:
                    time.sleep(0.05)

    # -- FADING's firewall ------------------------------------------------------------------
    def faded(self) -> bool:
        """Whether FADING's trigger has dropped its later connection attempts."""
        done = subprocess.run([*self.targets.exec_prefix(), "iptables", "-C", "INPUT",
                               *FADE_RULE], capture_output=True, timeout=30, check=False)
        return done.returncode == 0

    def revive(self) -> None:
        """Lift FADING's drop rule (the trigger sets it again on the next service scan)."""
        while self.faded():
            subprocess.run([*self.targets.exec_prefix(), "iptables", "-D", "INPUT",
                            *FADE_RULE], check=True, capture_output=True, timeout=30)

    # -- down -------------------------------------------------------------------------------
    def down(self) -> None:
        stop_processes(self.processes.values())
        for proc in self.processes.values():
            if proc.stdout:
                proc.stdout.close()
        self.processes.clear()
        # whatever a daemon forked (sshd's and vsftpd's per-connection children) goes too
        remove(self.prefix)
        if self.workdir is not None:
            shutil.rmtree(self.workdir, ignore_errors=True)
            self.workdir = None
        if self.made_privsep_dir:
            with contextlib.suppress(OSError):
                PRIVSEP_DIR.rmdir()
            self.made_privsep_dir = False


FADE_RULE = ("-d", FADING, "-p", "tcp", "--syn", "-j", "DROP")


@contextlib.contextmanager
def service_lab(prefix: str | None = None) -> Iterator[ServiceLab]:
    """The lab for a test module.  A daemon that cannot start fails the test, always;
    a machine without namespaces fails under CI=true and skips elsewhere, like the lab."""
    import pytest

    running = ServiceLab(prefix) if prefix else ServiceLab()
    try:
        running.up()
    except ServiceLabError as exc:
        pytest.fail(f"the service lab cannot start: {exc}", pytrace=False)
    except NetnsUnavailable as exc:
        message = f"the service lab cannot be built: {exc}"
        if in_ci():
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    try:
        yield running
    finally:
        running.down()


# -- the small services (run inside the target namespace) --------------------------------------


def _listen(address: str, port: int) -> socket.socket:
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((address, port))
    sock.listen(128)
    sock.setblocking(False)
    return sock


def serve(items: Sequence[str]) -> None:
    """`KIND,ADDRESS,PORT` ...: silent, wrapped, babble, hush and fading services."""
    selector = selectors.DefaultSelector()
    for item in items:
        kind, address, port = item.split(",")
        selector.register(_listen(address, int(port)), selectors.EVENT_READ, ("listen", kind))
    opened: dict[socket.socket, float] = {}  # the fading service's connections
    signal.signal(signal.SIGTERM, lambda _s, _f: sys.exit(0))
    print("ready", flush=True)
    while True:
        for key, _ in selector.select(0.1 if opened else None):
            sock = key.fileobj
            assert isinstance(sock, socket.socket)
            role, kind = key.data
            if role == "listen":
                try:
                    conn = sock.accept()[0]
                except OSError:
                    continue
                if kind == "wrapped":
                    conn.close()
                    continue
                if kind == "babble":
                    try:
                        # then end our side: each probe is answered at once, no wait
                        conn.sendall(BANNER.encode())
                        conn.shutdown(socket.SHUT_WR)
                    except OSError:  # a port scan's connection, reset already
                        conn.close()
                        continue
                if kind == "fading":
                    opened[conn] = time.monotonic()
                conn.setblocking(False)
                selector.register(conn, selectors.EVENT_READ, ("conn", kind))
                continue
            try:
                data = sock.recv(65536)
            except OSError:
                data = b""
            # silent and fading read on and never answer; hush hangs up on anything
            if not data or kind == "hush":
                selector.unregister(sock)
                opened.pop(sock, None)
                sock.close()
        now = time.monotonic()
        if any(now - since >= TRIGGER_S for since in opened.values()):
            _fade()
        for conn in [c for c, since in opened.items() if now - since >= HANGUP_S]:
            selector.unregister(conn)
            del opened[conn]
            conn.close()


def _fade() -> None:
    check = subprocess.run(["iptables", "-C", "INPUT", *FADE_RULE], capture_output=True,
                           check=False)
    if check.returncode != 0:
        subprocess.run(["iptables", "-I", "INPUT", *FADE_RULE], check=True)


def main(argv: Sequence[str]) -> int:
    if argv[:1] == ["serve"]:
        serve(argv[1:])
        return 0
    if argv[:1] == ["up"]:
        running = ServiceLab("pynmap-svlab")
        running.up()
        for proc in running.processes.values():  # they outlive this process
            if proc.stdout:
                proc.stdout.close()
        print(f"up: ip netns exec {running.scanner.name} env NMAP_UNPRIVILEGED=1 nmap -sT -sV "
              f"{MAIN} {SLOW} {FADING}\n  config and logs in {running.workdir}")
        return 0
    if argv[:1] == ["down"]:
        remove("pynmap-svlab")
        for leftover in Path(tempfile.gettempdir()).glob("pynmap-pynmap-svlab-*"):
            shutil.rmtree(leftover, ignore_errors=True)
        return 0
    print("usage: python -m tests.support.servicelab up|down", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
