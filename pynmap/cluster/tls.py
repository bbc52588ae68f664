"""Who may join: the TLS material a cluster run uses (Dask's `Security`).

Dask's scheduler runs whatever its clients submit, and its workers run it:
on a plain tcp:// scheduler, anyone who can reach its port can run code on
every worker.  Dask's TLS closes that door with mutual authentication: the
scheduler, its workers and its clients each present a certificate signed by
the cluster's CA, and each refuses a peer whose certificate is not.

* `local:N`: the scheduler listens on 127.0.0.1, which every user of this
  machine can reach, so the cluster uses TLS too, with a key and a
  self-signed certificate made for the run (`ephemeral_pems`): they exist in
  this process's memory and are handed to the workers it starts, never
  written to disk, so no other process can join or submit.  With
  --cluster-ca/--cluster-cert/--cluster-key, those files are used instead.
* `tls://`: the files of those options, or else Dask's own configuration
  (`distributed.comm.tls.ca-file`, `.client.cert`, `.client.key`, e.g. in
  ~/.config/dask/distributed.yaml or DASK_DISTRIBUTED__COMM__TLS__* variables).
* `tcp://`: no TLS (and a warning when the scheduler is not on loopback).
"""

from __future__ import annotations

import datetime

from pynmap.errors import Fatal
from pynmap.plain import FrozenData

# The name in the run's own certificate (Dask does not check host names).
LOCAL_NAME = "pynmap-local-cluster"


class Pems(FrozenData):
    """One identity for every role of a cluster: a CA certificate, and a
    certificate and key it vouches for (PEM texts, or file names)."""

    __match_args__ = ("ca", "cert", "key")
    __slots__ = __match_args__

    def __init__(self, ca: str, cert: str, key: str | None) -> None:
        self.ca = ca
        self.cert = cert
        self.key = key


def ephemeral_pems() -> Pems:
    """A P-256 key and a self-signed certificate for it, valid for a day, made
    now and kept in memory (the run's LocalCluster: scheduler, workers and
    client all present it, and accept only it)."""
    try:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import NameOID
    except ImportError:
        raise Fatal("--cluster local:N needs the cryptography package for the cluster's TLS "
                    "key: pip install 'pynmap[cluster]'") from None
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, LOCAL_NAME)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(LOCAL_NAME)]),
                           critical=False)
            .sign(key, hashes.SHA256()))
    cert_pem = cert.public_bytes(serialization.Encoding.PEM).decode()
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode()
    return Pems(cert_pem, cert_pem, key_pem)


def file_pems(ca: str, cert: str | None, key: str | None) -> Pems:
    """The files of --cluster-ca/--cluster-cert/--cluster-key, each checked to be
    readable now (Dask would only say so at its first connection)."""
    for option, path in (("--cluster-ca", ca), ("--cluster-cert", cert),
                         ("--cluster-key", key)):
        if path is None:
            continue
        try:
            with open(path, "rb") as f:
                f.read(1)
        except OSError as exc:
            raise Fatal(f"Failed to open {option} file {path}: "
                        f"{exc.strerror or exc}") from None
    assert cert is not None  # where.check_cluster_options: no --cluster-ca without it
    return Pems(ca, cert, key)
