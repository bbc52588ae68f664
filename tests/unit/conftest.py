"""Fixtures of the service scan's unit tests (test_service_engine.py and
test_service_speculation.py): the probe files and a TLS server context."""

from __future__ import annotations

import ssl
from pathlib import Path

import pytest

from pynmap.probes import ProbeDB, load_probes, parse_probes
from pynmap.services import bundled_data_dir
from tests.support.pyservices import make_certificate
from tests.support.serviceprobes import SMALL


@pytest.fixture(scope="module")
def small() -> ProbeDB:
    return parse_probes(SMALL)


@pytest.fixture(scope="module")
def bundled() -> ProbeDB:
    directory = bundled_data_dir()
    assert directory is not None
    return load_probes(f"{directory}/nmap-service-probes")


@pytest.fixture(scope="module")
def server_context(tmp_path_factory: pytest.TempPathFactory) -> ssl.SSLContext:
    cert, key = make_certificate(Path(tmp_path_factory.mktemp("tls")))
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(str(cert), str(key))
    return ctx
