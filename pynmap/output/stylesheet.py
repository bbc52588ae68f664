"""The href of the `<?xml-stylesheet?>` processing instruction.

nmap points it at the first readable `nmap.xsl` on its data-file path, as a
file:// URL with `?#[]%` percent-encoded, or at the bare relative `nmap.xsl`
when it finds none.  pynmap ships no stylesheet of its own, so it looks
where nmap's would be: --datadir, $NMAPDIR, ~/.nmap (real, then effective
user), then the system data directory /usr/share/nmap.  nmap also looks
next to its own binary (/usr/bin/../share/nmap for a packaged nmap, hence the
`file:///usr/bin/../share/nmap/nmap.xsl` in its captures); pynmap's
executable directory holds no nmap.xsl, so that step is left out and a
packaged nmap.xsl is reported as file:///usr/share/nmap/nmap.xsl.
"""

from __future__ import annotations

import os
import pwd

WEBXML_HREF = "https://svn.nmap.org/nmap/docs/nmap.xsl"
SYSTEM_DATADIR = "/usr/share/nmap"


def _home_of(uid: int) -> str | None:
    try:
        return pwd.getpwuid(uid).pw_dir
    except KeyError:
        return None


def _candidate_dirs(datadir: str | None) -> list[str]:
    dirs: list[str] = []
    if datadir:
        dirs.append(datadir)
    nmapdir = os.environ.get("NMAPDIR")
    if nmapdir:
        dirs.append(nmapdir)
    uids = [os.getuid()]
    if os.geteuid() != os.getuid():
        uids.append(os.geteuid())
    for uid in uids:
        home = _home_of(uid)
        if home is not None:
            dirs.append(f"{home}/.nmap")
    dirs.append(SYSTEM_DATADIR)
    return dirs


def filename_to_url(path: str) -> str:
    """A path as nmap turns it into a URL: `file://` + the path, `?#[]%` percent-encoded."""
    encoded = "".join(f"%{ord(ch):02X}" if ch in "?#[]%" else ch for ch in path)
    return f"file://{encoded}"


def find_stylesheet(datadir: str | None = None) -> str | None:
    """The path of the first readable nmap.xsl on the search path, if any."""
    for directory in _candidate_dirs(datadir):
        path = f"{directory}/nmap.xsl"
        if os.path.isfile(path) and os.access(path, os.R_OK):
            return path
    return None


def stylesheet_href(datadir: str | None = None) -> str:
    """The default stylesheet href: the file:// URL of the nmap.xsl found, else `nmap.xsl`."""
    path = find_stylesheet(datadir)
    return "nmap.xsl" if path is None else filename_to_url(path)
