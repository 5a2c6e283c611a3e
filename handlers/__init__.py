"""Chat capabilities, one module each; `register_all` composes them in help order."""

from __future__ import annotations

from bot.router import Router
from handlers import basics, binding


def register_all(router: Router) -> Router:
    for module in (basics, binding):
        module.register(router)
    return router
