"""Port tables out of -oX files: what the lab's tests compare between nmap and pynmap.

The XML lists the ports of a collapsed state only as ranges in
<extrareasons ports="...">; they are expanded here, so a table holds every
scanned port of every host found up and compares port by port.
"""

from __future__ import annotations

from lxml import etree

State = tuple[str, str]
Table = dict[str, dict[int, State]]

_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)


def _root(xml: str | bytes) -> etree._Element:
    data = xml.encode("utf-8", "surrogateescape") if isinstance(xml, str) else xml
    return etree.fromstring(data, _PARSER)


def expand_ranges(spec: str) -> list[int]:
    """"1,3-5" -> [1, 3, 4, 5]."""
    ports: list[int] = []
    for part in filter(None, spec.split(",")):
        low, _, high = part.partition("-")
        ports += range(int(low), int(high or low) + 1)
    return ports


def scanned_ports(xml: str | bytes) -> list[int]:
    """The TCP ports the run says it scanned (<scaninfo services=...>)."""
    info = _root(xml).find("scaninfo")
    return expand_ranges(info.get("services", "")) if info is not None else []


def hosts_up(xml: str | bytes) -> list[str]:
    return [host.find("address").get("addr") for host in _root(xml).iter("host")
            if host.find("status").get("state") == "up"]


def port_table(xml: str | bytes) -> Table:
    """address -> port -> (state, reason) for every host found up, collapsed ports included."""
    table: Table = {}
    for host in _root(xml).iter("host"):
        if host.find("status").get("state") != "up":
            continue
        ports: dict[int, State] = {}
        for port in host.iter("port"):
            state = port.find("state")
            ports[int(port.get("portid"))] = (state.get("state"), state.get("reason"))
        for extra in host.iter("extraports"):
            for reasons in extra.iter("extrareasons"):
                for number in expand_ranges(reasons.get("ports", "")):
                    ports[number] = (extra.get("state"), reasons.get("reason"))
        table[host.find("address").get("addr")] = dict(sorted(ports.items()))
    return table


def open_ports(table: Table, address: str) -> set[int]:
    return {p for p, (state, _) in table.get(address, {}).items() if state == "open"}


def mac_addresses(xml: str | bytes, element: str = "host") -> dict[str, tuple[str, str | None]]:
    """address -> (MAC address, vendor or None) of each <host> (or <hosthint>) with an
    <address addrtype="mac"> element."""
    found: dict[str, tuple[str, str | None]] = {}
    for host in _root(xml).iter(element):
        addresses = host.findall("address")
        macs = [a for a in addresses if a.get("addrtype") == "mac"]
        if macs:
            found[addresses[0].get("addr")] = (macs[0].get("addr"), macs[0].get("vendor"))
    return found
