"""`db upgrade`: Alembic migrations, run on the configured database.

Alembic (and the migration scripts it imports) is loaded only to migrate: `run` checks that the
database is current by comparing its alembic_version with the head revision read from the scripts'
text, which keeps the running bot's memory smaller.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import text

from bot.db import Database

if TYPE_CHECKING:
    from alembic.config import Config as AlembicConfig

MIGRATIONS = Path(__file__).resolve().parent.parent / "models" / "migrations"


def _alembic_config(connection: Any) -> AlembicConfig:
    from alembic.config import Config as AlembicConfig

    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["connection"] = connection
    return cfg


async def upgrade(db: Database, revision: str = "head") -> None:
    from alembic import command

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


_REVISION = re.compile(r"^revision: str = '([^']+)'", re.M)
_DOWN = re.compile(r"^down_revision: [^=]*= '([^']+)'", re.M)


@cache
def head_revisions() -> frozenset[str]:
    """The newest revision(s) of models/migrations/versions, read from the scripts' text."""
    revisions, downs = set(), set()
    for script in (MIGRATIONS / "versions").glob("*.py"):
        source = script.read_text(encoding="utf-8")
        if (found := _REVISION.search(source)) is not None:
            revisions.add(found.group(1))
        if (down := _DOWN.search(source)) is not None:
            downs.add(down.group(1))
    return frozenset(revisions - downs)


async def is_current(db: Database) -> bool:
    """True when the database is at the newest migration."""
    async with db.engine.connect() as conn:
        try:
            current = {row[0] for row in (await conn.execute(text("SELECT version_num FROM alembic_version"))).all()}
        except Exception:  # no table yet: never migrated
            return False
    return current == set(head_revisions())
