"""The local Salesforce emulator: a demo org generator and an HTTPS server speaking the
Salesforce wire protocol (OAuth2, REST, Bulk API 2.0), for tests, the demo and benchmarks.
"""

from salescoach_emulator.generate import generate_org
from salescoach_emulator.runner import EmulatorHandle, spawn_emulator, start_emulator

__all__ = ["EmulatorHandle", "generate_org", "spawn_emulator", "start_emulator"]
