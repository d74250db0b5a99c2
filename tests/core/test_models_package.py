"""`salescoach_core.models` loads a table module when one of its names is first used, and
`metadata` describes every table whatever was loaded before (migrations and the schema drift
check compare against it)."""

from __future__ import annotations

import subprocess
import sys

_PROBE = """
import pkgutil, sys
import salescoach_core.models as models
from salescoach_core.models import ApiKey
loaded = sorted(name for name in sys.modules if name.startswith("salescoach_core.models."))
print("after ApiKey:", *loaded)
print("tables via metadata:", *sorted(models.metadata.tables))
for module in pkgutil.iter_modules(models.__path__):
    __import__(f"salescoach_core.models.{module.name}")
print("tables of every module:", *sorted(models.metadata.tables))
"""


def _probe() -> dict[str, list[str]]:
    done = subprocess.run(
        [sys.executable, "-c", _PROBE], capture_output=True, text=True, timeout=120, check=True
    )
    return {
        label: values.split()
        for label, _, values in (line.partition(":") for line in done.stdout.splitlines())
    }


def test_a_name_loads_its_module_and_metadata_loads_every_table() -> None:
    seen = _probe()

    assert seen["after ApiKey"] == ["salescoach_core.models.auth", "salescoach_core.models.base"]
    assert {"api_key", "coaching_session"} <= set(seen["tables via metadata"])
    # A table module missing from the package's index would be absent from the first list.
    assert seen["tables via metadata"] == seen["tables of every module"]
