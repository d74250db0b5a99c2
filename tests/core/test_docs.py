"""The documents users read stay in step with the code."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import AliasChoices

from salescoach_core.settings import ENV_PREFIX, Settings

DOCS = Path(__file__).resolve().parents[2] / "docs"


def test_every_setting_is_documented_in_configuration_md() -> None:
    text = (DOCS / "configuration.md").read_text()
    missing = []
    for name, field in Settings.model_fields.items():
        if isinstance(field.validation_alias, AliasChoices):
            variable = str(field.validation_alias.choices[0])
        else:
            variable = f"{ENV_PREFIX}{name}".upper()
        if f"`{variable}`" not in text:
            missing.append(variable)
    assert missing == [], f"add these to docs/configuration.md: {missing}"


def test_empty_variables_count_as_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    # docker-compose.yml passes unset Salesforce settings through as empty strings.
    monkeypatch.setenv("SALESCOACH_SF_CLIENT_ID", "")
    assert Settings().salesforce_mode == "emulator"
