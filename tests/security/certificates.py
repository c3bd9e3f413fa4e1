"""Certificates made for a test with the openssl command: a CA, a learner's server certificate, client ones."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Identity:
    """A certificate and its private key (PEM files)."""

    cert: Path
    key: Path


def _openssl(*args: str) -> None:
    subprocess.run(["openssl", *args], check=True, capture_output=True)


class Authority:
    """A self-signed CA in `folder`, named `name`, that issues certificates into the same folder."""

    def __init__(self, folder: Path, name: str):
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        self.root = Identity(folder / f"{name}.crt", folder / f"{name}.key")
        _openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "2",
                 "-subj", f"/CN={name}", "-keyout", str(self.root.key), "-out", str(self.root.cert))

    def issue(self, name: str, dns: tuple[str, ...] = (), ips: tuple[str, ...] = ()) -> Identity:
        """A certificate for common name `name`, with `dns` and `ips` as subject alternative names."""
        identity = Identity(self.folder / f"{name}.crt", self.folder / f"{name}.key")
        request = self.folder / f"{name}.csr"
        _openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-subj", f"/CN={name}",
                 "-keyout", str(identity.key), "-out", str(request))
        names = [f"DNS:{d}" for d in dns] + [f"IP:{ip}" for ip in ips]
        extensions = self.folder / f"{name}.ext"
        extensions.write_text(f"subjectAltName={','.join(names)}\n" if names else "basicConstraints=CA:FALSE\n")
        _openssl("x509", "-req", "-in", str(request), "-CA", str(self.root.cert), "-CAkey", str(self.root.key),
                 "-CAcreateserial", "-days", "2", "-extfile", str(extensions), "-out", str(identity.cert))
        return identity
