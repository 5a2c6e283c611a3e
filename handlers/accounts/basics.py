"""帮助 and 我是谁: what the sender may do, and who the bot thinks they are."""

from __future__ import annotations

from bot.context import Context, Incoming, Reply
from bot.router import Command, Router, as_dict, help_sections
from models.accounts.roles import Right, role_labels


async def show_help(msg: Incoming, ctx: Context) -> Reply:
    """List only the commands the sender's roles allow, by topic."""
    commands = ctx.services.router.allowed(ctx.rights)
    if ctx.account is not None:  # 申请绑定 is for people without an account
        commands = [c for c in commands if c.name != "申请绑定"]
    sections = [
        {"topic": s.topic, "commands": [as_dict(c) for c in s.commands]} for s in help_sections(commands)
    ]
    return Reply("help.md.j2", {
        "name": ctx.account.name if ctx.account else "",
        "roles": role_labels(ctx.roles),
        "unit": ctx.unit.label if ctx.unit else "",
        "sections": sections,
    })


async def whoami(msg: Incoming, ctx: Context) -> Reply:
    assert ctx.account is not None
    return Reply("whoami.md.j2", {
        "name": ctx.account.name, "roles": role_labels(ctx.roles),
        "unit": ctx.unit.name if ctx.unit else "", "user_id": ctx.account.user_id,
    })


def register(router: Router) -> None:
    router.add(Command("帮助", show_help, Right.ANYONE, "查看您可以使用的功能",
                       aliases=("help", "菜单", "功能", "怎么用", "使用说明"), topic="通用"))
    router.add(Command("我是谁", whoami, Right.MEMBER, "查看您的姓名、角色和单位",
                       aliases=("我的账号", "whoami"), topic="通用"))
