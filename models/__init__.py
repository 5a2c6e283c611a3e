"""SQLModel tables and the domain rules that belong to the data.

Importing this package registers every table on `SQLModel.metadata` (Alembic reads it).
"""

from models.accounts import Account, BindingRequest
from models.audit import AuditEvent, InboundMessage
from models.outbox import OutboxMessage
from models.units import Unit

__all__ = ["Account", "AuditEvent", "BindingRequest", "InboundMessage", "OutboxMessage", "Unit"]
