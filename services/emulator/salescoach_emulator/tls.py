"""The emulator's local certificate authority and server certificate (via trustme).

The CA is kept in the state dir so a client that trusted it once keeps trusting restarts.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import trustme


@dataclass(frozen=True)
class TlsFiles:
    ca_bundle: Path
    cert_chain: Path
    private_key: Path


def ensure_tls(state_dir: Path, hosts: list[str]) -> TlsFiles:
    """Load or create the CA in ``state_dir/tls`` and issue a server certificate for ``hosts``."""
    tls_dir = state_dir / "tls"
    tls_dir.mkdir(parents=True, exist_ok=True)
    ca_cert, ca_key = tls_dir / "ca.pem", tls_dir / "ca-key.pem"
    if ca_cert.exists() and ca_key.exists():
        ca = trustme.CA.from_pem(ca_cert.read_bytes(), ca_key.read_bytes())
    else:
        ca = trustme.CA(organization_name="salescoach emulator")
        ca.private_key_pem.write_to_path(str(ca_key))
        ca_key.chmod(0o600)
        ca.cert_pem.write_to_path(str(ca_cert))
    server = ca.issue_cert(*dict.fromkeys(["localhost", "127.0.0.1", "::1", *hosts]))
    chain, key = tls_dir / "server-chain.pem", tls_dir / "server-key.pem"
    chain.write_bytes(b"".join(blob.bytes() for blob in server.cert_chain_pems))
    server.private_key_pem.write_to_path(str(key))
    key.chmod(0o600)
    return TlsFiles(ca_cert, chain, key)
