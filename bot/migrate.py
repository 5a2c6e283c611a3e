"""`db upgrade`: Alembic migrations, run on the configured database."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from bot.db import Database

MIGRATIONS = Path(__file__).resolve().parent.parent / "models" / "migrations"


def _alembic_config(connection) -> AlembicConfig:
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["connection"] = connection
    return cfg


async def upgrade(db: Database, revision: str = "head") -> None:
    async with db.engine.connect() as conn:
        await conn.run_sync(lambda c: command.upgrade(_alembic_config(c), revision))
        await conn.commit()


async def is_current(db: Database) -> bool:
    """True when the database is at the newest migration."""
    script = ScriptDirectory.from_config(_alembic_config(None))
    async with db.engine.connect() as conn:
        current = await conn.run_sync(lambda c: MigrationContext.configure(c).get_current_heads())
    return set(current) == set(script.get_heads())
