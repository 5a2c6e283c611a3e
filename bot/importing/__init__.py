"""File import (docs/import-formats.md): `import_file(db, kind, path)`, all rows or nothing.

The kinds are business: each capability defines its `SPEC` (bot.importing.base.KindSpec, with the
`keys` that must be unique within a file) and the composition root registers them with
`register_kinds` (bot/app.py).
"""

from __future__ import annotations

import gc
import itertools
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import cast

from bot.db import Database
from bot.importing.base import (
    ImportJob,
    ImportRejected,
    ImportResult,
    KindSpec,
    ListLoader,
    StreamLoader,
    drop_duplicates,
)
from bot.importing.reader import read_table

KINDS: dict[str, KindSpec] = {}


def register_kinds(specs: list[KindSpec]) -> None:
    """Called once by the composition root with every capability's import kinds."""
    for spec in specs:
        KINDS.setdefault(spec.kind, spec)

# Kinds of the contract that are not implemented yet, to give a precise message.
PLANNED: dict[str, str] = {}

__all__ = ["KINDS", "ImportRejected", "ImportResult", "import_file", "kind_spec", "register_kinds"]


def kind_spec(kind: str) -> KindSpec:
    """The registered kind by code (`units`) or label (`单位`); ImportRejected when unknown."""
    key = kind.strip()
    for spec in KINDS.values():
        if key in (spec.kind, spec.label):
            return spec
    supported = "、".join(f"{s.kind}（{s.label}）" for s in KINDS.values())
    if key in PLANNED and key not in KINDS:
        raise ImportRejected([f"{key}（{PLANNED[key]}）的导入尚未开放。目前支持：{supported}"])
    raise ImportRejected([f"未知的导入类型“{key}”。目前支持：{supported}"])


async def import_file(db: Database, kind: str, path: Path, *, actor_user_id: str = "") -> ImportResult:
    """Import one file of `kind`: all rows or nothing. Raises ImportRejected with every problem."""
    spec = kind_spec(kind)
    path = Path(path)
    table = read_table(path)
    missing = [h for h in spec.required if h not in table.headers]
    if missing:
        raise ImportRejected([f"缺少必填列：{'、'.join(missing)}"])
    warnings = []
    extra = [h for h in table.headers if h not in spec.headers]
    if extra:
        warnings.append(f"已忽略无法识别的列：{'、'.join(extra)}")
    job = ImportJob(kind=spec.kind, label=spec.label, entity=spec.entity, source=path.name,
                    actor_user_id=actor_user_id)
    first = next(table.rows, None)  # (a file without data rows is imported, with a warning)
    rows = table.rows if first is None else itertools.chain([first], table.rows)
    with _fewer_collections():
        if spec.streamed:
            await cast(StreamLoader, spec.load)(db, rows, job)
        else:  # the kind checks the rest of each file
            await cast(ListLoader, spec.load)(db, list(drop_duplicates(rows, spec.keys, job.errors)), job)
    if first is None:
        warnings.append("文件中没有数据行")
    job.result.warnings = warnings + job.result.warnings
    return job.result


@contextmanager
def _fewer_collections() -> Iterator[None]:
    """An import allocates a few objects per cell and frees them a chunk later: with the default
    threshold the cycle collector runs every 700 allocations and walks the young objects each time
    (about a tenth of a large import's time). What an import makes is freed by reference counting."""
    before = gc.get_threshold()
    gc.set_threshold(100_000, *before[1:])
    try:
        yield
    finally:
        gc.set_threshold(*before)
