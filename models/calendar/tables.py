"""Holiday arrangements loaded by an administrator (`import holidays`); they override the package."""

from __future__ import annotations

from datetime import date, datetime

from sqlmodel import Field, SQLModel

from models.base import utcnow


class HolidayOverride(SQLModel, table=True):
    day: date = Field(primary_key=True)
    is_workday: bool  # False: a rest day (法定假日); True: a make-up working day (调休上班)
    note: str = Field(default="", max_length=50)
    created_at: datetime = Field(default_factory=utcnow)


class HolidayYear(SQLModel, table=True):
    """A year whose official full-year arrangement (国务院办公厅通知) was imported: its calendar is
    plain Monday to Friday plus the imported days, and it is no longer provisional (暂定)."""

    year: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    official: bool = True
    note: str = Field(default="", max_length=100)
    created_at: datetime = Field(default_factory=utcnow)
