"""The local DingTalk emulator (tests and `make demo`)."""

from bot.emulator.faults import Fault, Faults
from bot.emulator.server import Emulator, Request, Sent

__all__ = ["Emulator", "Fault", "Faults", "Request", "Sent"]
