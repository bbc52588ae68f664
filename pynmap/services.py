"""nmap's data files: where they are looked for, and the nmap-services table.

Finding a file follows nmap's order (reference section 6): a path named by
--servicedb (used even when unreadable), then `--datadir D`, `$NMAPDIR`,
`~/.nmap` of the real and then the effective user, and last the data
directory pynmap ships.  nmap would next try the directory of its binary,
`<that>/../share/nmap` and the compiled-in `/usr/share/nmap`: all three exist
to find the data installed together with that binary, and for pynmap that is
the bundled directory (`pynmap/data` inside a wheel, `<repo>/data` in a
source checkout), so it takes their place.  pynmap never reads another
program's copy, so its port lists do not change with the nmap installed.

The `Warning: File ./F exists, but Nmap is using ...` rule is applied as
nmap does, to whichever directory won, the bundled one included: when the
chosen path does not start with `.` and a readable `./F` that is a different
file exists in the working directory, the warning is given, once per
`DataFiles`.  (Running from `<repo>/data` finds the bundled file itself
there, so no warning.)

nmap-services is parsed exactly as nmap parses it: fgets() lines of at most
1023 bytes, `#` comments, sscanf("%127s %hu/%15s %31s"), a ratio only when
it starts with `0.` or is `n/d`, the first entry per (port, protocol) kept,
and a stable sort on the ratio for the top-ports order.  Parsing the stock
1 MB file takes ~60 ms of Python, too slow for every start, so the parsed
table is cached (marshal) under $XDG_CACHE_HOME/pynmap, keyed by the file's
device, inode, size, mtime and ctime; a stale, unreadable or corrupt cache is
ignored and rebuilt.  With the cache, loading costs a few milliseconds, and
port names are only indexed when first asked for.
"""

from __future__ import annotations

import functools
import marshal
import os
import pwd
import re
import stat
from array import array
from collections.abc import Callable, Iterable, Mapping, Sequence

from pynmap.cnumbers import c_g
from pynmap.errors import Fatal, SystemFatal, Warn

SERVICES_FILE = "nmap-services"
PROTOCOLS_FILE = "nmap-protocols"
ETC_SERVICES = "/etc/services"
ETC_PROTOCOLS = "/etc/protocols"
PROTOCOLS = ("tcp", "udp", "sctp")

# nmap builds paths into 512-byte buffers; a longer candidate is skipped.
_PATH_BUFFER = 512
# fgets() into a 1024-byte buffer: longer lines are read in 1023-byte pieces.
_FGETS_CHUNK = 1023

_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))
_BUNDLED_CANDIDATES = (
    os.path.join(_PACKAGE_DIR, "data"),  # installed wheel: pynmap/data
    os.path.join(os.path.dirname(_PACKAGE_DIR), "data"),  # source checkout: <repo>/data
)


def bundled_data_dir() -> str | None:
    """The data directory pynmap ships (absolute), or None if it is missing."""
    for candidate in _BUNDLED_CANDIDATES:
        if os.path.isfile(os.path.join(candidate, SERVICES_FILE)):
            return candidate
    return None


def file_is_readable(path: str) -> int:
    """nbase's file_is_readable(): 1 for a readable file, 2 for a readable directory, else 0."""
    try:
        st = os.stat(path)
    except (OSError, ValueError):
        return 0
    if not os.access(path, os.R_OK):
        return 0
    return 2 if stat.S_ISDIR(st.st_mode) else 1


def _same_file(a: str, b: str) -> bool:
    try:
        sa, sb = os.stat(a), os.stat(b)
    except (OSError, ValueError):
        return False
    return sa.st_dev == sb.st_dev and sa.st_ino == sb.st_ino


def _fits(path: str) -> bool:
    return len(os.fsencode(path)) < _PATH_BUFFER


def path_dirname(path: str) -> str:
    """nbase's path_get_dirname(): up to the last '/', "." without one, "/" for a leading one."""
    i = path.rfind("/")
    if i == -1:
        return "."
    if i == 0:
        return "/"
    return path[:i]


def path_basename(path: str) -> str:
    return path[path.rfind("/") + 1 :]


class DataFiles:
    """nmap_fetchfile(): the data-file search, its one-time ./F warning and the read-files record.

    Share one instance for every data file of a run (nmap's warning is given
    once per process).  `requested` maps a file name to an explicit path
    (--servicedb gives {"nmap-services": path}).  `environ` (for $NMAPDIR),
    `home_dirs` (for ~/.nmap) and `search_dirs` (the bundled directory) can be
    replaced, for tests.  `plain_log` receives nmap's "Fetchfile found"
    lines (-d2), which go to normal output.
    """

    def __init__(
        self,
        *,
        warn: Warn,
        datadir: str | None = None,
        requested: Mapping[str, str] | None = None,
        environ: Mapping[str, str] | None = None,
        search_dirs: Sequence[str] | None = None,
        home_dirs: Sequence[str] | None = None,
        debugging: int = 0,
        plain_log: Callable[[str], None] | None = None,
    ) -> None:
        self.warn = warn
        self.datadir = datadir
        self.requested = dict(requested or {})
        self.environ = os.environ if environ is None else environ
        if search_dirs is None:
            bundled = bundled_data_dir()
            search_dirs = [bundled] if bundled else []
        self.search_dirs = list(search_dirs)
        self.home_dirs = None if home_dirs is None else list(home_dirs)
        self.debugging = debugging
        self.plain_log = plain_log
        # data file name -> the path it was read from, as nmap records it
        self.loaded: dict[str, str] = {}
        self._warned = False

    def fetch(self, name: str) -> tuple[int, str]:
        """(status, path): status 1 = readable file, 2 = a directory, 0 = nothing found.

        A requested path is returned with status 1 even when it cannot be
        read: the caller then fails to open it, as nmap does.
        """
        explicit = self.requested.get(name)
        if explicit is not None:
            raw = os.fsencode(explicit)[: _PATH_BUFFER - 1]
            path = os.fsdecode(raw)
            return (file_is_readable(path) or 1), path
        return self._search(name)

    def _candidates(self, name: str) -> Iterable[str]:
        if self.datadir is not None:
            yield f"{self.datadir}/{name}"
        nmapdir = self.environ.get("NMAPDIR")
        if nmapdir is not None:
            yield f"{nmapdir}/{name}"
        for home in self._homes():
            yield f"{home}/.nmap/{name}"
        for directory in self.search_dirs:
            yield f"{directory}/{name}"

    def _homes(self) -> list[str]:
        """The password-file homes of the real, then the effective user ($HOME is not used)."""
        if self.home_dirs is not None:
            return self.home_dirs
        uids = [os.getuid()]
        if os.geteuid() != os.getuid():
            uids.append(os.geteuid())
        homes = []
        for uid in uids:
            try:
                homes.append(pwd.getpwuid(uid).pw_dir)
            except KeyError:
                continue
        return homes

    def _search(self, name: str) -> tuple[int, str]:
        found, path = 0, ""
        for candidate in self._candidates(name):
            if not _fits(candidate):
                continue
            found = file_is_readable(candidate)
            if found:
                path = candidate
                break
        if found and not path.startswith("."):
            dot = f"./{name}"
            if file_is_readable(dot) and not _same_file(path, dot) and not self._warned:
                self._warned = True
                self.warn(
                    f"Warning: File {dot} exists, but Nmap is using {path} for security and "
                    "consistency reasons.  set NMAPDIR=. to give priority to files in your "
                    "local directory (may affect the other data files too)."
                )
        if found and self.debugging > 1 and self.plain_log is not None:
            self.plain_log(f"Fetchfile found {path}")
        return found, path


def describe_loaded_files(loaded: Mapping[str, str], *, verbose: int, debugging: int) -> list[str]:
    """nmap's end-of-run data-file lines ("Read data files from: DIR"), without newlines."""
    records = sorted(
        ((path_dirname(p), path_basename(p)) for p in loaded.values()),
        key=lambda r: (os.fsencode(r[0]), os.fsencode(r[1])),
    )
    dirs = list(dict.fromkeys(d for d, _ in records))
    if not dirs:
        return ["No data files read."] if debugging > 0 else []
    if len(dirs) == 1 and verbose and not debugging:
        return [f"Read data files from: {dirs[0]}"]
    if len(dirs) == 1 and not debugging:
        return []
    return [
        f"Read from {d}:" + "".join(f" {f}" for dd, f in records if dd == d) + "." for d in dirs
    ]


# --- parsing nmap-services -------------------------------------------------

_WS = rb"[ \t\v\f\r]*+"  # C isspace() minus the newline that ends an fgets() line
_TOKEN = rb"[^\s\x00]"  # what %s takes: bytes up to whitespace (or the string's end)


@functools.cache
def _service_line() -> re.Pattern[bytes]:
    """sscanf(line, "%127s %hu/%15s %31s"): name, port/proto, optional ratio token."""
    return re.compile(
        rb"^%(ws)s(?!#)(%(tok)s{1,127}+)%(ws)s([+-]?[0-9]++)/%(ws)s(%(tok)s{1,15}+)"
        rb"(?:%(ws)s(%(tok)s{1,31}+))?" % {b"ws": _WS, b"tok": _TOKEN},
        re.M,
    )


@functools.cache
def _protocol_line() -> re.Pattern[bytes]:
    """sscanf(line, "%127s %hu"): nmap-protocols."""
    return re.compile(
        rb"^%(ws)s(?!#)(%(tok)s{1,127}+)%(ws)s([+-]?[0-9]++)" % {b"ws": _WS, b"tok": _TOKEN}, re.M
    )


# Only a parse needs these (and the cache spares most runs one): compiled on first use.
_DECIMAL_RATIO = rb"0\.[0-9]*(?:[eE][+-]?[0-9]+)?"
_SCANF_INT = rb"[ \t\n\v\f\r]*([+-]?[0-9]+)"


def _scanf_u16(text: bytes) -> int:
    """%hu: strtoul() (negatives wrap, overflow saturates) stored in an unsigned short."""
    value = int(text)
    if abs(value) > 2**64 - 1:
        value = 2**64 - 1
    return value % 2**64 % 2**16


def _scanf_int(text: bytes, pos: int) -> tuple[int | None, int]:
    """%d at `pos`: (value as a C int, end) or (None, pos) when nothing converts."""
    m = re.compile(_SCANF_INT).match(text, pos)
    if not m:
        return None, pos
    value = max(min(int(m.group(1)), 2**63 - 1), -(2**63))  # strtol saturates
    value &= 0xFFFFFFFF
    return (value - 2**32 if value >= 2**31 else value), m.end()


def _fgets_lines(data: bytes) -> tuple[bytes, bool]:
    """The data as fgets() would hand it over: long lines cut into 1023-byte pieces."""
    if not re.search(rb"^[^\n]{%d}" % _FGETS_CHUNK, data, re.M):
        return data, False
    pieces: list[bytes] = []
    for line in data.split(b"\n"):
        while len(line) > _FGETS_CHUNK:
            pieces.append(line[:_FGETS_CHUNK])
            line = line[_FGETS_CHUNK:]
        pieces.append(line)
    return b"\n".join(pieces), True


def _line_number(data: bytes, offset: int) -> int:
    return data.count(b"\n", 0, offset) + 1


def _parse_ratio(token: bytes, filename: str, data: bytes, offset: int) -> tuple[float, bool]:
    """(ratio, is_ratio_format) for the 4th field, with nmap's fatal errors for bad n/d."""
    if b"/" in token:
        n, end = _scanf_int(token, 0)
        d = None
        if n is not None and token[end : end + 1] == b"/":
            d, _ = _scanf_int(token, end + 1)
        where = f"{filename}:{_line_number(data, offset)}"
        if n is None or d is None:
            raise Fatal(f"{where} contains invalid port ratio string: {os.fsdecode(token)}")
        if n < 0 or d < 0:
            raise Fatal(f"{where} contains an invalid negative value")
        if n > d:
            ratio = float("inf") if d == 0 else n / d
            raise Fatal(f"{where} has a ratio {c_g(ratio)}. All ratios must be < 1")
        if d == 0:
            raise Fatal(f"{where} has a ratio denominator of 0 causing a division by 0 error")
        return n / d, True
    if token.startswith(b"0."):
        m = re.match(_DECIMAL_RATIO, token)
        assert m is not None
        return float(m.group(0)), True
    return 0.0, False


def _proto_class(proto: bytes) -> str | None:
    """How nmap files an entry's protocol: counted, kept-but-unused, or (None) rejected."""
    low = proto.lower()
    for prefix in (b"tcp", b"udp", b"sctp", b"ddp", b"divert", b"#"):
        if low.startswith(prefix):
            return prefix.decode()
    return None


class _Section:
    """One protocol's entries: ports in top-ports order, their ratios and names."""

    __slots__ = ("_by_port", "_names", "names_blob", "order", "ratios")

    def __init__(self, order: array[int], ratios: array[float], names_blob: str) -> None:
        self.order = order
        self.ratios = ratios
        self.names_blob = names_blob
        self._names: list[str] | None = None
        self._by_port: dict[int, str] | None = None

    @property
    def names(self) -> list[str]:
        if self._names is None:
            self._names = self.names_blob.split("\n") if self.order else []
        return self._names

    @property
    def by_port(self) -> dict[int, str]:
        if self._by_port is None:
            self._by_port = dict(zip(self.order, self.names, strict=True))
        return self._by_port


class _Table:
    def __init__(
        self, sections: dict[str, _Section], has_ratios: bool, notes: list[tuple[str, int, str]]
    ) -> None:
        self.sections = sections
        self.has_ratios = has_ratios
        # what nmap reports with -d: ("dup", port, proto) / ("unknown", line, proto)
        self.notes = notes


def parse_services(data: bytes, filename: str) -> _Table:
    """Parse nmap-services content the way nmap_services_init() does (ratio errors are Fatal)."""
    data, _ = _fgets_lines(data)
    seen: set[tuple[int, bytes]] = set()
    entries: dict[bytes, list[tuple[float, int, bytes]]] = {p.encode(): [] for p in PROTOCOLS}
    notes: list[tuple[str, int, str]] = []
    has_ratios = False
    # The stock file repeats a few hundred ratio strings and a handful of
    # protocol names over 27,000 lines: memoising them halves the parse time.
    ratios: dict[bytes, tuple[float, bool]] = {}
    kinds: dict[bytes, str | None] = {}
    for m in _service_line().finditer(data):
        name, number, proto, token = m.groups()
        if token is None:
            ratio = 0.0
        else:
            known = ratios.get(token)
            if known is None:
                known = ratios[token] = _parse_ratio(token, filename, data, m.start())
            ratio = known[0]
            has_ratios = has_ratios or known[1]
        port = int(number)
        if not 0 <= port <= 0xFFFF:
            port = _scanf_u16(number)
        key = (port, proto)
        if key in seen:
            notes.append(("dup", port, os.fsdecode(proto)))
            continue
        kind = kinds.get(proto, "")
        if kind == "":
            kind = kinds[proto] = _proto_class(proto)
        if kind is None:
            notes.append(("unknown", _line_number(data, m.start()), os.fsdecode(proto)))
            continue
        seen.add(key)
        bucket = entries.get(proto)
        if bucket is not None:
            bucket.append((ratio, port, name))
    sections = {}
    for proto, items in entries.items():
        # list.sort is stable: equal ratios keep file order, as nmap's list::sort does
        items.sort(key=lambda e: e[0], reverse=True)
        sections[proto.decode()] = _Section(
            array("H", [e[1] for e in items]),
            array("d", [e[0] for e in items]),
            b"\n".join(e[2] for e in items).decode("utf-8", "surrogateescape"),
        )
    return _Table(sections, has_ratios, notes)


# --- the parse cache --------------------------------------------------------

_CACHE_FORMAT = 1
_CACHE_MIN_SIZE = 64 * 1024  # smaller files parse in well under a millisecond


def cache_dir() -> str:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "pynmap")


def _cache_file(st: os.stat_result) -> str:
    return os.path.join(cache_dir(), f"services-{st.st_dev:x}-{st.st_ino:x}.v{_CACHE_FORMAT}")


def _cache_key(st: os.stat_result) -> tuple[int, int, int]:
    return (st.st_size, st.st_mtime_ns, st.st_ctime_ns)


def _cache_load(st: os.stat_result) -> _Table | None:
    try:
        with open(_cache_file(st), "rb") as f:
            blob = marshal.load(f)
        fmt, key, has_ratios, notes, raw = blob
        if fmt != _CACHE_FORMAT or tuple(key) != _cache_key(st):
            return None
        sections = {}
        for proto in PROTOCOLS:
            order_bytes, ratio_bytes, names_blob = raw[proto]
            order, ratios = array("H"), array("d")
            order.frombytes(order_bytes)
            ratios.frombytes(ratio_bytes)
            if len(order) != len(ratios) or not isinstance(names_blob, str):
                return None
            sections[proto] = _Section(order, ratios, names_blob)
        return _Table(sections, bool(has_ratios), [tuple(n) for n in notes])
    except Exception:  # a stale or damaged cache is simply rebuilt
        return None


def _cache_store(st: os.stat_result, table: _Table) -> None:
    raw = {
        p: (s.order.tobytes(), s.ratios.tobytes(), s.names_blob) for p, s in table.sections.items()
    }
    blob = marshal.dumps((_CACHE_FORMAT, _cache_key(st), table.has_ratios, table.notes, raw))
    directory = cache_dir()
    try:
        os.makedirs(directory, mode=0o700, exist_ok=True)
        tmp = os.path.join(directory, f".services-{os.getpid()}-{id(blob):x}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(blob)
            os.replace(tmp, _cache_file(st))
        except BaseException:
            os.unlink(tmp)
            raise
    except OSError:
        pass  # no cache this time; correctness does not depend on it


def _read_all(fd: int) -> bytes:
    """Everything readable from fd; a read error (a directory: EISDIR) ends it, as for fgets()."""
    chunks = []
    while True:
        try:
            chunk = os.read(fd, 1 << 20)
        except OSError:
            break
        if not chunk:
            break
        chunks.append(chunk)
    return b"".join(chunks)


def _read_table(path: str, *, use_cache: bool = True) -> _Table:
    try:
        fd = os.open(path, os.O_RDONLY)
    except (OSError, ValueError) as exc:
        raise SystemFatal(
            f"Unable to open {path} for reading service information",
            getattr(exc, "errno", None) or 0,
        ) from None
    try:
        st = os.fstat(fd)
        cacheable = use_cache and stat.S_ISREG(st.st_mode) and st.st_size >= _CACHE_MIN_SIZE
        if cacheable:
            table = _cache_load(st)
            if table is not None:
                return table
        data = _read_all(fd)
    finally:
        os.close(fd)
    table = parse_services(data, path)
    if cacheable:
        _cache_store(st, table)
    return table


# --- the services table -----------------------------------------------------


class ServiceDB:
    """The nmap-services table nmap scans with.

    `path` is the file read (as nmap names it, e.g. "/etc/services" after
    the fallback), `directory` its dirname for "Read data files from".
    `name(port, proto)` is the service name (None when the port is not in the
    table: normal output then says "unknown", grepable output nothing).
    `top_ports(proto)` is the table in top-ports order.

    Loading may be deferred (`ServiceDB.lazy(...)`): nmap reads the file the
    first time something needs it, and its warnings come out at that moment.
    """

    def __init__(self, files: DataFiles, *, debugging: int = 0, use_cache: bool = True) -> None:
        self.files = files
        self.debugging = debugging
        self.use_cache = use_cache
        self._table: _Table | None = None
        self._path = ""
        self._protocols: ProtocolDB | None = None
        self._known: dict[str, bytearray] = {}

    @classmethod
    def lazy(
        cls,
        *,
        servicedb: str | None,
        datadir: str | None,
        warn: Warn,
        debugging: int = 0,
        files: DataFiles | None = None,
    ) -> ServiceDB:
        if files is None:
            requested = {SERVICES_FILE: servicedb} if servicedb is not None else None
            files = DataFiles(warn=warn, datadir=datadir, requested=requested, debugging=debugging)
        return cls(files, debugging=debugging)

    @property
    def loaded(self) -> bool:
        return self._table is not None

    def load(self) -> ServiceDB:
        if self._table is not None:
            return self
        status, path = self.files.fetch(SERVICES_FILE)
        if status != 1:
            self.files.warn("Unable to find nmap-services!  Resorting to /etc/services")
            path = ETC_SERVICES
        table = _read_table(path, use_cache=self.use_cache)
        self.files.loaded[SERVICES_FILE] = path
        self._path = path
        self._table = table
        if self.debugging:
            for kind, number, proto in table.notes:
                if kind == "dup":
                    self.files.warn(
                        f"Port {number} proto {proto} is duplicated in services file {path}"
                    )
                else:
                    self.files.warn(
                        f"Unknown protocol ({proto}) on line {number} of services file {path}."
                    )
        return self

    def _t(self) -> _Table:
        table = self.load()._table
        assert table is not None  # load() sets it or raises
        return table

    @property
    def path(self) -> str:
        self.load()
        return self._path

    @property
    def directory(self) -> str:
        return path_dirname(self.path)

    @property
    def has_ratios(self) -> bool:
        """False for an old-style (no-ratio) file such as /etc/services."""
        return self._t().has_ratios

    def name(self, port: int, proto: str = "tcp") -> str | None:
        section = self._t().sections.get(proto)
        return None if section is None else section.by_port.get(port)

    def top_ports(self, proto: str = "tcp") -> list[tuple[int, float]]:
        """Every entry of `proto`, highest ratio first; ties keep file order."""
        section = self._t().sections.get(proto)
        if section is None:
            return []
        return list(zip(section.order, section.ratios, strict=True))

    def ratio_order(self, proto: str = "tcp") -> tuple[array[int], array[float]]:
        """(ports, ratios) in top-ports order, as arrays (no copy: do not modify)."""
        section = self._t().sections[proto]
        return section.order, section.ratios

    def known(self, proto: str) -> bytearray:
        """A 65536-byte map: 1 where `proto` has an entry for that port."""
        mask = self._known.get(proto)
        if mask is None:
            mask = bytearray(65536)
            for port in self._t().sections[proto].order:
                mask[port] = 1
            self._known[proto] = mask
        return mask

    def match(self, mask: str, proto: str) -> list[int]:
        """Ports of `proto` whose name matches the shell-style mask (`*`, `?`, ASCII case folded)."""
        section = self._t().sections.get(proto)
        if section is None or not section.order:
            return []
        test = wildcard(mask)
        return [p for p, n in zip(section.order, section.names, strict=True) if test(n)]

    def protocols(self) -> ProtocolDB:
        """The IP protocol table (nmap-protocols), read on first use."""
        if self._protocols is None:
            self._protocols = ProtocolDB.load(self.files)
        return self._protocols


def wildcard(mask: str) -> Callable[[str], bool]:
    """nmap's wildtest(): `*` any run, `?` one character, ASCII letters compared case-blind."""
    pattern = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in mask)
    regex = re.compile(pattern, re.IGNORECASE | re.ASCII | re.DOTALL)
    return lambda text: regex.fullmatch(text) is not None


def load_services(
    *,
    servicedb: str | None = None,
    datadir: str | None = None,
    warn: Warn,
    debugging: int = 0,
    files: DataFiles | None = None,
) -> ServiceDB:
    """Find and read nmap-services now (see ServiceDB.lazy for the deferred form)."""
    return ServiceDB.lazy(
        servicedb=servicedb, datadir=datadir, warn=warn, debugging=debugging, files=files
    ).load()


def lazy_default_services(datadir: str | None, servicedb: str | None, warn: Warn) -> ServiceDB:
    """A ServiceDB that finds and reads nmap-services only when first used."""
    return ServiceDB.lazy(servicedb=servicedb, datadir=datadir, warn=warn)


class ProtocolDB:
    """nmap-protocols (IP protocol numbers), needed only for P: items of a port spec.

    pynmap does not ship this file, so unless --datadir, $NMAPDIR or ~/.nmap
    provides one, nmap's own fallback applies: a warning and /etc/protocols.
    """

    def __init__(self, path: str, by_number: dict[int, str]) -> None:
        self.path = path
        self.by_number = by_number

    @classmethod
    def load(cls, files: DataFiles) -> ProtocolDB:
        status, path = files.fetch(PROTOCOLS_FILE)
        if status != 1:
            files.warn("Unable to find nmap-protocols!  Resorting to /etc/protocols")
            path = ETC_PROTOCOLS
        try:
            fd = os.open(path, os.O_RDONLY)
        except (OSError, ValueError) as exc:
            raise SystemFatal(
                f"Unable to open {path} for reading protocol information",
                getattr(exc, "errno", None) or 0,
            ) from None
        try:
            data = _read_all(fd)
        finally:
            os.close(fd)
        files.loaded[PROTOCOLS_FILE] = path
        data, _ = _fgets_lines(data)
        by_number: dict[int, str] = {}
        for m in _protocol_line().finditer(data):
            number = _scanf_u16(m.group(2))
            by_number.setdefault(number, m.group(1).decode("utf-8", "surrogateescape"))
        return cls(path, by_number)

    def match(self, mask: str) -> list[int]:
        test = wildcard(mask)
        return [n for n, name in self.by_number.items() if test(name)]
