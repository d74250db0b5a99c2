"""The frontend contract, checked the way a TypeScript team consumes it: clients/typescript's
types are generated from docs/openapi.json and its sources (the client and src/contract.ts)
compile under `tsc --strict` (the `typescript_client` fixture fails otherwise)."""

from __future__ import annotations

from pathlib import Path

from tests.plugins.typescript import CLIENT_DIR


def test_generated_typescript_client_compiles_and_bundles(typescript_client: Path) -> None:
    schema = (CLIENT_DIR / "src" / "schema.d.ts").read_text()
    # Every operation of the committed document is typed.
    assert '"/v1/reps/{rep_id}/scorecard"' in schema
    assert "createWebhook:" in schema
    bundle = typescript_client.read_text()
    assert "createSalescoachClient" in bundle
    assert 'from "openapi-fetch"' not in bundle, "the bundle must stand alone in a browser"
