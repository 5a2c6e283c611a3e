"""Chat capabilities, one package each (accounts, rectification, approvals, warnings, feedback, visits,
evaluation).

`register_all` composes their commands in help order, `register_flows` their guided dialogues,
`import_kinds` their file imports and `template_dirs` their template folders. Only the composition
root (bot/app.py, bot/cli.py) imports this package.
"""

from __future__ import annotations

from pathlib import Path

from bot.dialogue import Dialogues
from bot.importing.base import KindSpec
from bot.router import Router
from handlers.accounts import basics, binding, import_accounts
from handlers.approvals import import_approvals, progress, stats
from handlers.calendar import import_holidays
from handlers.dashboard import command as dashboard
from handlers.evaluation import commands as evaluation
from handlers.evaluation import export as evaluation_export
from handlers.evaluation import import_complaints, import_indicators, import_scores, watchlist
from handlers.evaluation import rounds as evaluation_rounds
from handlers.feedback import filing, supervisors
from handlers.rectification import export, import_problems, ledger, problems
from handlers.rectification import sources as problem_sources
from handlers.rectification.sources import ProblemSources
from handlers.staffing import import_persons, import_units
from handlers.visits import attachments as visit_attachments
from handlers.visits import commands as visits
from handlers.visits import export as visits_export
from handlers.visits import import_groups, inspections
from handlers.warnings import commands as warnings

MODULES = (
    basics, progress, stats, problems, warnings, filing, supervisors, visits, inspections, export, visits_export,
    evaluation, watchlist, evaluation_rounds, evaluation_export, binding, dashboard,
)
CAPABILITIES = ("accounts", "approvals", "rectification", "warnings", "feedback", "visits", "evaluation", "dashboard")


def register_all(router: Router) -> Router:
    sources = ProblemSources()  # rectification's registry: who can turn records into problems
    for capability in (warnings, filing, visits, evaluation_rounds):
        capability.add_problem_source(sources)
    for module in MODULES:
        module.register(router)
    ledger.register(router, on_closed=sources.closed)
    problem_sources.register(router, sources)
    # photos and files without a command join the newest 整改报告, 走访记录 or 自评 they are sent after
    router.attachment_claims = [problems.claim_attachment, visit_attachments.claim_attachment,
                                evaluation.claim_attachment]
    router.attachment_handler = problems.unclaimed_attachment
    return router


def register_flows() -> Dialogues:
    """Every guided dialogue of the bot, by name."""
    dialogues = Dialogues()
    dialogues.add(ledger.ASSIGN_FLOW)
    dialogues.add(filing.FILE_FLOW)
    dialogues.add(filing.ANSWER_FLOW)
    dialogues.add(supervisors.MEETING_FLOW)
    dialogues.add(problems.EXTEND_FLOW)
    dialogues.add(visits.ARRANGE_FLOW)
    return dialogues


def import_kinds() -> list[KindSpec]:
    """Every file import kind, in the order `帮助` and the CLI list them."""
    return [import_units.SPEC, import_accounts.SPEC, import_holidays.SPEC, import_problems.SPEC,
            import_persons.SPEC, import_groups.SPEC, import_approvals.SPEC, import_indicators.SPEC,
            import_scores.SPEC, import_complaints.SPEC]


def template_dirs() -> list[Path]:
    here = Path(__file__).resolve().parent
    return [here / name / "templates" for name in CAPABILITIES]
