"""Chat capabilities, one module each; `register_all` composes them in help order."""

from __future__ import annotations

from bot.dialogue import Dialogues
from bot.router import Router
from handlers import (
    approval_stats,
    approvals,
    basics,
    binding,
    export,
    feedback,
    inspections,
    ledger,
    problems,
    supervisors,
    visits,
    warnings,
)

MODULES = (
    basics, approvals, approval_stats, problems, ledger, warnings, feedback, supervisors, visits, inspections, export,
    binding,
)


def register_all(router: Router) -> Router:
    for module in MODULES:
        module.register(router)
    router.attachment_handler = problems.receive_attachment
    return router


def register_flows() -> Dialogues:
    """Every guided dialogue of the bot, by name."""
    dialogues = Dialogues()
    dialogues.add(ledger.ASSIGN_FLOW)
    dialogues.add(feedback.FILE_FLOW)
    dialogues.add(feedback.ANSWER_FLOW)
    dialogues.add(supervisors.MEETING_FLOW)
    dialogues.add(problems.EXTEND_FLOW)
    dialogues.add(visits.ARRANGE_FLOW)
    return dialogues
