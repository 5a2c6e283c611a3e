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
        sqlite = (await conn.get_raw_connection()).driver_connection if db.is_sqlite else None
        if sqlite is not None:
            # SQLite alters a table by copying it and dropping the old one ("batch" migrations): with
            # foreign keys on, dropping a table that other rows point at fails. They are switched off
            # for the migration (outside any transaction, where SQLite honours the pragma) and checked after.
            await sqlite.execute("PRAGMA foreign_keys=OFF")
        try:
            await conn.run_sync(lambda c: command.upgrade(_alembic_config(c), revision))
            await conn.commit()
            if sqlite is not None:
                broken = await (await sqlite.execute("PRAGMA foreign_key_check")).fetchall()
                if broken:
                    raise RuntimeError(f"升级后发现 {len(broken)} 处外键不一致：{broken[:5]}")
        finally:
            if sqlite is not None:
                await sqlite.execute("PRAGMA foreign_keys=ON")


async def is_current(db: Database) -> bool:
    """True when the database is at the newest migration."""
    script = ScriptDirectory.from_config(_alembic_config(None))
    async with db.engine.connect() as conn:
        current = await conn.run_sync(lambda c: MigrationContext.configure(c).get_current_heads())
    return set(current) == set(script.get_heads())
