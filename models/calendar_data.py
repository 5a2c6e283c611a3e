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
