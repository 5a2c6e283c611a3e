"""`看板`: the link to the 监督看板 as an ActionCard whose button opens the page inside DingTalk."""

from __future__ import annotations

from urllib.parse import quote

from bot.context import Button, Context, Incoming, Reply
from bot.router import Command, Router
from handlers.dashboard.pages import dashboard_url
from models.accounts.roles import Right


def in_dingtalk(url: str) -> str:
    """A link DingTalk opens in its own browser (on a PC too, in the side panel), where 免登 works."""
    return f"dingtalk://dingtalkclient/page/link?url={quote(url, safe='')}&pc_slide=true"


async def open_board(msg: Incoming, ctx: Context) -> Reply:
    cfg = ctx.services.config.dashboard
    if not cfg.enabled:
        return Reply("dashboard_link.md.j2", {"url": ""}, outcome="invalid")
    url = dashboard_url(cfg.base_url)
    return Reply("dashboard_link.md.j2", {"url": url}, buttons=[Button("打开看板", "看板", url=in_dingtalk(url))])


def register(router: Router) -> None:
    router.add(Command("看板", open_board, Right.OFFICE_VIEW, "打开监督看板（亮灯、审批、预警、走访、反馈图表）",
                       aliases=("监督看板", "驾驶舱"), topic="通用"))
