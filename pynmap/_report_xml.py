"""Reading nmap's XML into `pynmap.report` objects (lxml; imported by Report.from_xml).

Elements the report does not model are skipped (see pynmap.report); an
element or attribute that nmap.dtd requires and that is missing, or a value
that is not a number or not one of nmap's words, raises ReportError naming it.
"""

from __future__ import annotations

import enum
from typing import TypeVar

from lxml import etree

from pynmap.report import (
    Address,
    AddressType,
    Exit,
    ExtraPorts,
    ExtraReasons,
    Host,
    Hostname,
    HostnameType,
    HostState,
    Port,
    Protocol,
    Reason,
    Report,
    ReportError,
    RunStats,
    ScanInfo,
    Script,
    Service,
    Shard,
    State,
    Target,
    Times,
)

E = TypeVar("E", bound=enum.Enum)

# No entity expansion, no DTD or anything else fetched: the document may come
# from anywhere (a shard's output, a file someone sent).
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False,
                          huge_tree=True)


def parse(data: bytes) -> Report:
    try:
        root = etree.fromstring(data, _PARSER)
    except etree.XMLSyntaxError as e:
        # An interrupted nmap leaves its XML without </nmaprun>: that ends here.
        raise ReportError(f"Not a complete, well-formed XML document: {e}") from None
    if root.tag != "nmaprun":
        raise ReportError(f"Not an nmap run: the root element is <{root.tag}>, not <nmaprun>")
    return _report(root)


def _where(el: etree._Element) -> str:
    return f"<{el.tag}> (line {el.sourceline})"


def _req(el: etree._Element, name: str) -> str:
    value = el.get(name)
    if value is None:
        raise ReportError(f"{_where(el)} has no {name} attribute")
    return value


def _int(el: etree._Element, name: str, value: str | None = None) -> int:
    text = _req(el, name) if value is None else value
    try:
        return int(text)
    except ValueError:
        raise ReportError(f"{_where(el)}: {name}={text!r} is not a whole number") from None


def _opt_int(el: etree._Element, name: str) -> int | None:
    value = el.get(name)
    return None if value is None else _int(el, name, value)


def _float(el: etree._Element, name: str) -> float:
    text = _req(el, name)
    try:
        return float(text)
    except ValueError:
        raise ReportError(f"{_where(el)}: {name}={text!r} is not a number") from None


def _word(el: etree._Element, name: str, kind: type[E], value: str | None = None) -> E:
    text = _req(el, name) if value is None else value
    try:
        return kind(text)
    except ValueError:
        raise ReportError(f"{_where(el)}: {name}={text!r} is not a known {kind.__name__}") from None


def _opt_word(el: etree._Element, name: str, kind: type[E]) -> E | None:
    value = el.get(name)
    return None if value is None else _word(el, name, kind, value)


def _one(el: etree._Element, tag: str) -> etree._Element:
    found = el.find(tag)
    if found is None:
        raise ReportError(f"{_where(el)} has no <{tag}>")
    return found


def _scripts(el: etree._Element) -> tuple[Script, ...]:
    return tuple(Script(id=_req(s, "id"), output=_req(s, "output")) for s in el.iterfind("script"))


def _report(root: etree._Element) -> Report:
    scaninfo: list[ScanInfo] = []
    targets: list[Target] = []
    hosts: list[Host] = []
    prescripts: tuple[Script, ...] = ()
    postscripts: tuple[Script, ...] = ()
    shards: list[Shard] = []
    verbose = debugging = 0
    runstats: RunStats | None = None
    for child in root:
        tag = child.tag
        if isinstance(child, etree._Comment):
            shard = _shard(child)
            if shard is not None:
                shards.append(shard)
        elif tag == "host":
            hosts.append(_host(child))
        elif tag == "scaninfo":
            scaninfo.append(ScanInfo(type=_req(child, "type"),
                                     protocol=_word(child, "protocol", Protocol),
                                     numservices=_int(child, "numservices"),
                                     services=_req(child, "services"),
                                     scanflags=child.get("scanflags")))
        elif tag == "verbose":
            verbose = _opt_int(child, "level") or 0
        elif tag == "debugging":
            debugging = _opt_int(child, "level") or 0
        elif tag == "target":
            targets.append(Target(specification=_req(child, "specification"),
                                  status=child.get("status"), reason=child.get("reason")))
        elif tag == "prescript":
            prescripts += _scripts(child)
        elif tag == "postscript":
            postscripts += _scripts(child)
        elif tag == "runstats":
            runstats = _runstats(child)
        # everything else (comments, hosthint, task*, output) is not part of the model
    if runstats is None:
        raise ReportError("The nmap run has no <runstats>: it did not finish")
    return Report(
        runstats=runstats,
        scanner=root.get("scanner", "nmap"),
        args=root.get("args"),
        start=_opt_int(root, "start"),
        startstr=root.get("startstr"),
        version=root.get("version"),
        xmloutputversion=root.get("xmloutputversion"),
        profile_name=root.get("profile_name"),
        scaninfo=tuple(scaninfo),
        verbose=verbose,
        debugging=debugging,
        targets=tuple(targets),
        prescripts=prescripts,
        postscripts=postscripts,
        hosts=tuple(hosts),
        shards=tuple(shards) if shards else None,
    )


def _shard(comment: etree._Comment) -> Shard | None:
    """A merged run's `<!-- <shard ...>...</shard> -->` comment (see report.Shard);
    None for any other comment."""
    text = (comment.text or "").strip()
    if not text.startswith("<shard "):
        return None
    try:
        # the comment holds the element escaped as nmap escapes attributes: plain ASCII XML
        el = etree.fromstring(text.encode("utf-8", "surrogateescape"), _PARSER)
    except etree.XMLSyntaxError as e:
        raise ReportError(f"The <shard> comment on line {comment.sourceline} is not "
                          f"well-formed XML: {e}") from None
    return Shard(args=_req(el, "args"), start=_int(el, "start"), startstr=el.get("startstr"),
                 runstats=_runstats(el))


def _runstats(el: etree._Element) -> RunStats:
    finished = _one(el, "finished")
    counts = _one(el, "hosts")
    return RunStats(
        time=_int(finished, "time"),
        elapsed=_float(finished, "elapsed"),
        timestr=finished.get("timestr"),
        summary=finished.get("summary"),
        exit=_opt_word(finished, "exit", Exit),
        errormsg=finished.get("errormsg"),
        # nmap.dtd: up and down default to 0
        up=_opt_int(counts, "up") or 0,
        down=_opt_int(counts, "down") or 0,
        total=_int(counts, "total"),
    )


def _host(el: etree._Element) -> Host:
    status = _one(el, "status")
    ports_el = el.find("ports")
    times_el = el.find("times")
    extraports: list[ExtraPorts] = []
    ports: list[Port] = []
    if ports_el is not None:
        for x in ports_el.iterfind("extraports"):
            reasons = tuple(
                ExtraReasons(reason=_word(r, "reason", Reason), count=_int(r, "count"),
                             proto=_opt_word(r, "proto", Protocol), ports=r.get("ports"))
                for r in x.iterfind("extrareasons"))
            extraports.append(ExtraPorts(state=_word(x, "state", State), count=_int(x, "count"),
                                         reasons=reasons))
        ports.extend(_port(p) for p in ports_el.iterfind("port"))
    hostscripts: tuple[Script, ...] = ()
    for hs in el.iterfind("hostscript"):
        hostscripts += _scripts(hs)
    return Host(
        state=_word(status, "state", HostState),
        reason=_word(status, "reason", Reason),
        reason_ttl=_int(status, "reason_ttl"),
        addresses=tuple(Address(addr=_req(a, "addr"),
                                addrtype=_opt_word(a, "addrtype", AddressType) or AddressType.IPV4,
                                vendor=a.get("vendor"))
                        for a in el.iterfind("address")),
        hostnames=tuple(Hostname(name=_req(n, "name"), type=_opt_word(n, "type", HostnameType))
                        for n in el.iterfind("hostnames/hostname")),
        extraports=tuple(extraports),
        ports=tuple(ports),
        hostscripts=hostscripts,
        times=None if times_el is None else Times(srtt=_int(times_el, "srtt"),
                                                  rttvar=_int(times_el, "rttvar"),
                                                  to=_int(times_el, "to")),
        starttime=_opt_int(el, "starttime"),
        endtime=_opt_int(el, "endtime"),
        timedout=el.get("timedout") == "true",
        comment=el.get("comment"),
    )


def _port(el: etree._Element) -> Port:
    state = _one(el, "state")
    owner = el.find("owner")
    service = el.find("service")
    return Port(
        protocol=_word(el, "protocol", Protocol),
        portid=_int(el, "portid"),
        state=_word(state, "state", State),
        reason=_word(state, "reason", Reason),
        reason_ttl=_int(state, "reason_ttl"),
        reason_ip=state.get("reason_ip"),
        owner=None if owner is None else _req(owner, "name"),
        service=None if service is None else _service(service),
        scripts=_scripts(el),
    )


def _service(el: etree._Element) -> Service:
    return Service(
        name=_req(el, "name"),
        method=_req(el, "method"),
        conf=_int(el, "conf"),
        product=el.get("product"),
        version=el.get("version"),
        extrainfo=el.get("extrainfo"),
        tunnel=el.get("tunnel"),
        proto=el.get("proto"),
        rpcnum=_opt_int(el, "rpcnum"),
        lowver=_opt_int(el, "lowver"),
        highver=_opt_int(el, "highver"),
        hostname=el.get("hostname"),
        ostype=el.get("ostype"),
        devicetype=el.get("devicetype"),
        servicefp=el.get("servicefp"),
        cpe=tuple(c.text or "" for c in el.iterfind("cpe")),
    )
