"""Shared machinery of every import kind: results, error collection, column specs, upserts."""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, TypeVar

from models.audit import AuditEvent
from models.base import utcnow

if TYPE_CHECKING:
    from sqlmodel.ext.asyncio.session import AsyncSession

    from bot.db import Database
    from bot.importing.reader import Row

DETAIL_MAX = 4000
T = TypeVar("T")
ERRORS_KEPT = 1000


class ImportRejected(Exception):
    """The file was refused; `lines` holds one Chinese line per problem. Nothing was written."""

    def __init__(self, lines: list[str]) -> None:
        super().__init__("\n".join(lines))
        self.lines = list(lines)


@dataclass
class ImportResult:
    """What a clean import did."""

    kind: str
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    warnings: list[str] = field(default_factory=list)
    label: str = ""

    def summary(self) -> str:
        """One line, e.g. `单位导入完成：新增 3，更新 1，未变 26`."""
        name = self.label or self.kind
        return f"{name}导入完成：新增 {self.added}，更新 {self.updated}，未变 {self.unchanged}"


class ErrorLog:
    """Collects `第N行 列名: 原因` lines, reported in row order."""

    def __init__(self) -> None:
        self._items: list[tuple[int, int, str]] = []
        self._notes: list[str] = []
        self._dropped = 0  # lines beyond ERRORS_KEPT: counted, not kept (a file of bad rows stays small)

    def add(self, row: int, column: str, reason: str) -> None:
        if len(self._items) >= ERRORS_KEPT:
            self._dropped += 1
            return
        self._items.append((row, len(self._items), f"第{row}行 {column}: {reason}"))

    @property
    def count(self) -> int:
        """How many row problems were found so far (kept or not)."""
        return len(self._items) + self._dropped

    def note(self, text: str) -> None:
        """A line about the whole file, listed after the rows' lines."""
        self._notes.append(text)

    @property
    def lines(self) -> list[str]:
        more = [f"……另有 {self._dropped} 处问题未列出（只列出前 {ERRORS_KEPT} 处）"] if self._dropped else []
        return [text for _, _, text in sorted(self._items)] + more + self._notes

    def __bool__(self) -> bool:
        return bool(self._items or self._notes)

    def raise_if_any(self) -> None:
        if self:
            raise ImportRejected(self.lines)

    def cell(self, row: Row, column: str, parse: Callable[[Any], Any], *, required: bool = False,
             default: Any = None) -> Any:
        """Parse one cell; a blank or bad cell is logged and gives `default` (parse_columns does the same inline)."""
        raw = row.get(column)
        if is_blank(raw):
            if required:
                self.add(row.number, column, "不能为空")
            return default
        try:
            return parse(raw)
        except ValueError as exc:
            self.add(row.number, column, str(exc))
            return default


def is_blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


@dataclass(frozen=True, slots=True)
class Column:
    """One header of a kind: the model attribute it fills and how to parse it."""

    header: str
    attr: str
    parse: Callable[[Any], Any]
    default: Any = ""
    required: bool = False


def parse_columns(row: Row, columns: tuple[Column, ...], errors: ErrorLog) -> dict[str, Any]:
    """Values of the columns present in the file; absent columns are left out (kept as stored)."""
    values: dict[str, Any] = {}
    cells = row.positional()
    for col, position in row.present(columns, _header):  # ErrorLog.cell, inlined: the loop of every import
        raw = cells[position]
        if raw is None or raw == "" or (isinstance(raw, str) and raw.isspace()):
            if col.required:
                errors.add(row.number, col.header, "不能为空")
            values[col.attr] = col.default
            continue
        try:
            values[col.attr] = col.parse(raw)
        except ValueError as exc:
            errors.add(row.number, col.header, str(exc))
            values[col.attr] = col.default
    return values


def _header(column: Column) -> str:
    return column.header


DUPLICATES_SHOWN = 10


class Overlap:
    """One write at a time in the background while the caller checks the next chunk: the database server
    works on one core while Python parses on the other. `enabled=False` awaits each write at once (SQLite,
    whose driver needs the GIL for every row, gains nothing from it).
    `async with Overlap() as overlap: await overlap.submit(write(chunk))`; leaving waits for the last
    write (also on an error, so the session is idle before the transaction rolls back)."""

    def __init__(self, *, enabled: bool = True) -> None:
        self._task: asyncio.Future[None] | None = None
        self.enabled = enabled  # False: each write is awaited at once (see SnapshotWriter.overlaps)

    async def submit(self, write: Coroutine[Any, Any, None]) -> None:
        await self.wait()
        if not self.enabled:
            await write
            return
        self._task = asyncio.ensure_future(write)
        await asyncio.sleep(0)  # let it start

    async def wait(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            await task

    async def __aenter__(self) -> Overlap:
        return self

    async def __aexit__(self, kind: type[BaseException] | None, *_: object) -> None:
        if kind is None:
            await self.wait()
        elif self._task is not None:  # an error already propagates: the write's own outcome is moot
            await asyncio.gather(self._task, return_exceptions=True)


YIELD_EVERY = 500  # rows checked between two yields to the event loop (other users are being served)


async def breathe(done: int) -> None:
    """Yield to the event loop every YIELD_EVERY rows of a long check."""
    if done % YIELD_EVERY == 0:
        await asyncio.sleep(0)


def batched(items: Iterable[T], size: int) -> Iterator[list[T]]:
    """The items (rows, or what a kind made of them) in lists of `size` (the last one shorter), as they come."""
    items = iter(items)
    while chunk := list(itertools.islice(items, size)):
        yield chunk


def drop_duplicates(rows: Iterable[Row], keys: tuple[tuple[str, ...], ...], errors: ErrorLog) -> Iterator[Row]:
    """The rows that do not repeat an earlier row's key, as they come (a dict per key, so time stays
    linear however many copies there are). Repeats are logged by `DuplicateLog`. Rows with a blank
    key cell are left to the kind's own checks."""
    repeats = DuplicateLog(errors)
    seen: list[dict[tuple[str, ...], int]] = [{} for _ in keys]
    for row in rows:
        repeat = None
        for key, first in zip(keys, seen, strict=True):
            values = tuple("" if row.get(h) is None else str(row.get(h)).strip() for h in key)
            if all(values):
                earlier = first.setdefault(values, row.number)
                if earlier != row.number and repeat is None:
                    repeat = (key, earlier)
        if repeat is None:
            yield row
        else:
            repeats.add(row.number, "+".join(repeat[0]), repeat[1])
    repeats.close()


class DuplicateLog:
    """Logs the first DUPLICATES_SHOWN repeats as `第N行 列名: 与第M行重复`, then one line with the count."""

    def __init__(self, errors: ErrorLog) -> None:
        self.errors, self.count = errors, 0

    def add(self, row: int, column: str, earlier: int) -> None:
        self.count += 1
        if self.count <= DUPLICATES_SHOWN:
            self.errors.add(row, column, f"与第{earlier}行重复")

    def close(self) -> None:
        if self.count > DUPLICATES_SHOWN:
            self.errors.note(f"……共 {self.count} 行与前面的行重复（只列出前 {DUPLICATES_SHOWN} 行）")


def first_seen(errors: ErrorLog, seen: dict[Any, int], key: Any, row: int, column: str) -> None:
    """Log a duplicate when `key` already appeared on an earlier row of the file."""
    if key in seen:
        errors.add(row, column, f"与第{seen[key]}行重复")
    else:
        seen[key] = row


@dataclass
class ImportJob:
    """One run of one kind on one file: counts the outcome and writes the audit trail."""

    kind: str
    label: str
    entity: str
    source: str = ""
    actor_user_id: str = ""
    result: ImportResult = field(init=False)
    errors: ErrorLog = field(default_factory=ErrorLog)  # the kind's load adds to it (duplicates come first)

    def __post_init__(self) -> None:
        self.result = ImportResult(kind=self.kind, label=self.label)

    def upsert(self, session: AsyncSession, existing: Any, make: Callable[..., Any],
               values: dict[str, Any], *, key: str, row: int) -> Any:
        """Insert or update one row; `updated_at` moves only when a field really changed."""
        if existing is None:
            obj = make(**values)
            session.add(obj)
            self.result.added += 1
            self._audit(session, "import.add", key, row, {k: _plain(v) for k, v in values.items()})
            return obj
        changes = {k: v for k, v in values.items() if getattr(existing, k) != v}
        if not changes:
            self.result.unchanged += 1
            return existing
        detail = {k: [_plain(getattr(existing, k)), _plain(v)] for k, v in changes.items()}
        for k, v in changes.items():
            setattr(existing, k, v)
        if hasattr(existing, "updated_at"):
            existing.updated_at = utcnow()
        self.result.updated += 1
        self._audit(session, "import.update", key, row, detail)
        return existing

    def _audit(self, session: AsyncSession, action: str, key: str, row: int, fields: dict) -> None:
        detail = json.dumps({"file": self.source, "row": row, "fields": fields}, ensure_ascii=False)
        session.add(AuditEvent(action=action, entity=self.entity, entity_id=key[:64],
                               actor_user_id=self.actor_user_id, detail=detail[:DETAIL_MAX]))


def _plain(value: Any) -> Any:
    if isinstance(value, date | datetime):
        return value.isoformat()
    return value


# A kind's load gets a list of the rows, or (KindSpec.streamed) the rows as they are read.
ListLoader = Callable[["Database", list["Row"], ImportJob], Awaitable[None]]
StreamLoader = Callable[["Database", Iterable["Row"], ImportJob], Awaitable[None]]
Loader = ListLoader | StreamLoader


@dataclass(frozen=True)
class KindSpec:
    """A registered import kind: its headers and the coroutine that validates and writes rows."""

    kind: str
    label: str
    entity: str
    headers: tuple[str, ...]
    required: tuple[str, ...]
    load: Loader
    keys: tuple[tuple[str, ...], ...] = ()  # header groups unique within a file (see drop_duplicates)
    # True: `load` walks the rows once as they are read and checks `keys` itself (with DuplicateLog),
    # so a file of a million rows is never held whole; False: it gets a list without the repeats.
    streamed: bool = False
