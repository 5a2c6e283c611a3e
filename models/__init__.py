"""SQLModel tables and the domain rules that belong to the data.

Importing this package registers every table on `SQLModel.metadata` (Alembic reads it).
"""

from models.accounts.tables import Account, BindingRequest
from models.approvals.tables import ApprovalEvent, ApprovalItem, ApprovalOptOut, ProcessedEvent
from models.audit import AuditEvent, InboundMessage
from models.calendar.tables import HolidayOverride, HolidayYear
from models.dialogue import Dialogue
from models.evaluation.tables import (
    Blacklist,
    Complaint,
    EvaluationRound,
    Indicator,
    Interview,
    ManualScore,
    RoundItem,
    ScoreSnapshot,
    SelfAssessment,
    SelfAttachment,
)
from models.feedback.tables import Feedback, FeedbackAttachment, FeedbackEvent, Meeting, MeetingReply
from models.outbox import OutboxMessage, OutboxRate
from models.rectification.tables import ExtensionRequest, Problem, ProblemAttachment, ProblemEvent
from models.staffing.persons import Person, Warning
from models.staffing.units import Unit
from models.staffing.watchlist import WatchEntry
from models.visits.tables import (
    PlannedVisit,
    RandomDraw,
    RosterPlan,
    SandingPlan,
    VisitAttachment,
    VisitGroup,
    VisitRecord,
)

__all__ = [
    "Account",
    "ApprovalEvent",
    "ApprovalItem",
    "ApprovalOptOut",
    "AuditEvent",
    "BindingRequest",
    "Blacklist",
    "Complaint",
    "Dialogue",
    "EvaluationRound",
    "ExtensionRequest",
    "Feedback",
    "FeedbackAttachment",
    "FeedbackEvent",
    "HolidayOverride",
    "HolidayYear",
    "InboundMessage",
    "Indicator",
    "Interview",
    "ManualScore",
    "Meeting",
    "MeetingReply",
    "OutboxMessage",
    "OutboxRate",
    "Person",
    "PlannedVisit",
    "Problem",
    "ProblemAttachment",
    "ProblemEvent",
    "ProcessedEvent",
    "RandomDraw",
    "RosterPlan",
    "RoundItem",
    "SandingPlan",
    "ScoreSnapshot",
    "SelfAssessment",
    "SelfAttachment",
    "Unit",
    "VisitAttachment",
    "VisitGroup",
    "VisitRecord",
    "Warning",
    "WatchEntry",
]
