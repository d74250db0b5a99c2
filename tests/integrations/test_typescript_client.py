"""The frontend contract, checked the way a TypeScript team consumes it: types generated from
docs/openapi.json by openapi-typescript, and a small client file compiled by `tsc --strict`.

The tools are pinned and installed once into .tools/node (npm's own cache makes reinstalls
cheap); later runs reuse them. Skipped, saying why, only where node or npm is missing.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]
TOOLS = ROOT / ".tools" / "node"
PINNED = {"openapi-typescript": "7.13.0", "typescript": "5.9.3"}

USAGE = """
import type { components, operations, paths } from "./schema";

type Goal = components["schemas"]["GoalPublic"];
type Problem = components["schemas"]["Problem"];
type EventPage = paths["/v1/events"]["get"]["responses"][200]["content"]["application/json"];
type NewWebhook = operations["createWebhook"]["requestBody"]["content"]["application/json"];
type Created = operations["createWebhook"]["responses"][201]["content"]["application/json"];

const hook: NewWebhook = { url: "https://bi.example.com/hook", event_types: ["session.held"] };

function describe(goal: Goal): string {
  return `${goal.id} ${goal.status}`;
}

function nextCursor(page: EventPage): string | null | undefined {
  for (const event of page.items) {
    const kind: "goal.created" | "goal.status_changed" | "session.held" | "session.canceled"
      | "action_item.completed" | "sync.completed" = event.type;
    void kind;
  }
  return page.next_cursor;
}

function secretOf(created: Created): string {
  return created.secret;
}

function explain(problem: Problem): string {
  return `${problem.status} ${problem.code}: ${problem.detail ?? problem.title}`;
}

export { describe, explain, hook, nextCursor, secretOf };
"""


def _installed() -> bool:
    for name, version in PINNED.items():
        manifest = TOOLS / "node_modules" / name / "package.json"
        if not manifest.exists() or json.loads(manifest.read_text())["version"] != version:
            return False
    return True


def _run(*args: str | Path, cwd: Path) -> None:
    result = subprocess.run(
        [str(a) for a in args], cwd=cwd, capture_output=True, text=True, timeout=600, check=False
    )
    assert result.returncode == 0, f"{' '.join(map(str, args))}\n{result.stdout}\n{result.stderr}"


@pytest.fixture(scope="module")
def node_tools() -> Path:
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.skip("node and npm are needed for the TypeScript client check (install Node.js 18+)")
    if not _installed():
        TOOLS.mkdir(parents=True, exist_ok=True)
        manifest = {"name": "salescoach-contract-tools", "private": True, "dependencies": PINNED}
        (TOOLS / "package.json").write_text(json.dumps(manifest, indent=2) + "\n")
        _run("npm", "install", "--prefix", TOOLS, "--no-audit", "--no-fund", "--loglevel=error", cwd=ROOT)
    return TOOLS / "node_modules"


def test_generated_typescript_client_compiles(node_tools: Path, tmp_path: Path) -> None:
    _run(
        "node",
        node_tools / "openapi-typescript" / "bin" / "cli.js",
        ROOT / "docs" / "openapi.json",
        "--output",
        tmp_path / "schema.d.ts",
        cwd=tmp_path,
    )
    (tmp_path / "usage.ts").write_text(USAGE)
    _run(
        "node",
        node_tools / "typescript" / "bin" / "tsc",
        "--noEmit",
        "--strict",
        "--target",
        "es2022",
        "--module",
        "es2022",
        "--moduleResolution",
        "bundler",
        tmp_path / "usage.ts",
        cwd=tmp_path,
    )
