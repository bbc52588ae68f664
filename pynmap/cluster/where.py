"""`--cluster` and its companions, read and checked without Dask.

What the user names with `--cluster`:

* `local:N`: a LocalCluster of N worker processes this run starts on this
  machine (scheduler and workers on 127.0.0.1, TLS with a key made for the
  run, so no other local user can join it or submit to it);
* `tls://HOST:PORT`: an existing Dask scheduler, spoken to over TLS with the
  CA, certificate and key of `--cluster-ca/--cluster-cert/--cluster-key`, or
  else Dask's own configuration (`distributed.comm.tls.*`);
* `tcp://HOST:PORT`: an existing scheduler without TLS.  Anyone who can reach
  such a scheduler can run code on its workers; pynmap warns once when HOST
  is not a loopback address (`warning_for`).

Everything here is pure: no socket, no name lookup (a host name other than
`localhost` counts as not loopback), no import of Dask.
"""

from __future__ import annotations

import ipaddress

from pynmap.errors import Fatal
from pynmap.plain import FrozenData

# `--cluster local:N`: the most worker processes one machine gets
MAX_LOCAL_WORKERS = 256
MAX_SHARDS = 65536

ADDRESS_ERROR = ("Bogus --cluster argument specified, must be local:N (N worker processes on "
                 f"this machine, 1 <= N <= {MAX_LOCAL_WORKERS}), tls://HOST:PORT or "
                 "tcp://HOST:PORT (a Dask scheduler)")
SHARDS_ERROR = f"Bogus --cluster-shards argument specified, must be from 1 to {MAX_SHARDS}"


class Where(FrozenData):
    """A parsed `--cluster` value: `kind` "local", "tls" or "tcp"; `workers` for
    "local", `host` and `port` for the others."""

    __match_args__ = ("kind", "host", "port", "workers")
    __slots__ = __match_args__

    def __init__(self, kind: str, host: str = "", port: int = 0, workers: int = 0) -> None:
        self.kind = kind
        self.host = host
        self.port = port
        self.workers = workers

    @property
    def address(self) -> str:
        """The scheduler's address as Dask writes it (IPv6 in brackets)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.kind}://{host}:{self.port}"

    @property
    def loopback(self) -> bool:
        """Whether the scheduler is on this machine's loopback (by its address or
        the name `localhost`; no name is looked up)."""
        if self.kind == "local" or self.host.lower() == "localhost":
            return True
        try:
            return ipaddress.ip_address(self.host).is_loopback
        except ValueError:
            return False


def parse_where(text: str) -> Where:
    """The `--cluster` value, or nmap's kind of fatal error naming the forms it takes."""
    if text.startswith("local:"):
        count = text[len("local:"):]
        if not count.isdigit() or not 1 <= int(count) <= MAX_LOCAL_WORKERS:
            raise Fatal(ADDRESS_ERROR)
        return Where("local", workers=int(count))
    kind, sep, rest = text.partition("://")
    if not sep or kind not in ("tcp", "tls"):
        raise Fatal(ADDRESS_ERROR)
    if rest.startswith("["):  # [IPv6]:PORT
        host, bracket, tail = rest[1:].partition("]")
        if not bracket or not tail.startswith(":"):
            raise Fatal(ADDRESS_ERROR)
        port_text = tail[1:]
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            raise Fatal(ADDRESS_ERROR) from None
    else:
        host, colon, port_text = rest.rpartition(":")
        if not colon or ":" in host:
            raise Fatal(ADDRESS_ERROR)
    if not host or any(c.isspace() or c in "/@?#" for c in host):
        raise Fatal(ADDRESS_ERROR)
    if not port_text.isdigit() or not 1 <= int(port_text) <= 65535:
        raise Fatal(ADDRESS_ERROR)
    return Where(kind, host=host, port=int(port_text))


def parse_shards(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= MAX_SHARDS:
        raise Fatal(SHARDS_ERROR)
    return int(text)


class ClusterOptions(FrozenData):
    """What the `--cluster*` options ask for (Options.cluster)."""

    __match_args__ = ("where", "ca", "cert", "key", "shards", "seed")
    __slots__ = __match_args__

    def __init__(self, where: Where, ca: str | None = None, cert: str | None = None,
                 key: str | None = None, shards: int | None = None, seed: int = 0) -> None:
        self.where = where
        self.ca = ca  # --cluster-ca FILE: the CA that signed the scheduler's and workers' certs
        self.cert = cert  # --cluster-cert FILE: this client's certificate (may hold the key)
        self.key = key  # --cluster-key FILE
        self.shards = shards  # --cluster-shards N: how many shards (default: shard_count)
        self.seed = seed  # --seed S: which partition into shards (pynmap.shard)

    @property
    def tls_files(self) -> bool:
        return self.ca is not None or self.cert is not None or self.key is not None


def check_cluster_options(address: str | None, ca: str | None, cert: str | None,
                          key: str | None, shards: int | None, *,
                          seed: int | None = None) -> ClusterOptions | None:
    """The --cluster* options once the whole command line is read: None without
    --cluster (and then none of the others may be given); `seed` is --seed's
    (pynmap.shard's default seed without it)."""
    given = {"--cluster-ca": ca, "--cluster-cert": cert, "--cluster-key": key,
             "--cluster-shards": shards}
    if address is None:
        for name, value in given.items():
            if value is not None:
                raise Fatal(f"{name} only applies with --cluster")
        return None
    where = parse_where(address)
    from pynmap.shard import DEFAULT_SEED

    options = ClusterOptions(where, ca, cert, key, shards,
                             DEFAULT_SEED if seed is None else seed)
    if where.kind == "tcp" and options.tls_files:
        raise Fatal("--cluster-ca, --cluster-cert and --cluster-key need a tls:// scheduler "
                    "(or local:N)")
    if key is not None and cert is None:
        raise Fatal("--cluster-key needs --cluster-cert")
    if options.tls_files and ca is None:
        raise Fatal("--cluster-cert needs --cluster-ca (the CA that signed the scheduler's "
                    "certificate)")
    if ca is not None and cert is None:
        raise Fatal("--cluster-ca needs --cluster-cert (this client's certificate)")
    return options


def warning_for(where: Where) -> str | None:
    """The one warning a `--cluster` address gets: a tcp:// scheduler off loopback."""
    if where.kind != "tcp" or where.loopback:
        return None
    return (f"WARNING: the Dask scheduler {where.address} is not on this machine's loopback and "
            "tcp:// is neither encrypted nor authenticated: anyone who can reach it can run "
            "code on its workers and read the scan. Use tls:// (see pynmap's README).")
