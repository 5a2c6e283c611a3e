"""Fixtures of the runtime tests: the database the outbox tests and their bot processes share."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.bot.outbox_harness import PG_URL, OutboxDB, create_postgres_db

BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@pytest.fixture(params=BACKENDS)
async def shared_db(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[OutboxDB]:
    """An empty database the test and its bot processes share: a SQLite file, or a PostgreSQL
    database of its own (created beside BOT_TEST_POSTGRES_URL's, dropped afterwards)."""
    drop: Any = None
    if request.param == "postgres":
        if not PG_URL:
            pytest.skip("PostgreSQL tests need BOT_TEST_POSTGRES_URL (set by .ci/run)")
        url, drop = await create_postgres_db(PG_URL)
    else:
        url = f"sqlite+aiosqlite:///{tmp_path / 'outbox.db'}"
    odb = OutboxDB(url)
    await odb.setup()
    yield odb
    await odb.close()
    if drop is not None:
        await drop()
