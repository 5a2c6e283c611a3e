"""监督看板 over HTTP: 免登 through the emulator, the signed expiring cookie, CSRF, who sees what, the
`看板` command, empty states, and the lights counted in SQL against the chat's light rule."""

from __future__ import annotations

import random
import re
from datetime import date, timedelta

import aiohttp
import pytest
from sqlmodel import select

from bot.app import BotApp
from bot.config import ConfigError, load_config
from bot.emulator import Emulator
from bot.web_session import COOKIE, SessionSigner
from handlers.dashboard import pages
from models import AuditEvent
from models.calendar.workdays import load_calendar
from models.rectification.board import light_bounds
from models.rectification.rules import RED, YELLOW, RectificationRules, light
from tests.conftest import Chat, FakeClock
from tests.dashboard.conftest import NOW, Browserless, auth_code

SECTIONS = ("sec-lights", "sec-approvals", "sec-warnings", "sec-visits", "sec-feedback")


def sections(html: str) -> set[str]:
    return set(re.findall(r'<section class="card" id="(sec-[a-z]+)"', html))


def unit_links(html: str) -> dict[str, str]:
    return {name: href for href, name in re.findall(r'href="(/dashboard/unit/\d+)" data-unit="([^"]+)"', html)}


async def test_no_page_without_a_session(web: Browserless) -> None:
    for path in ("/dashboard", "/dashboard/unit/1"):
        status, html = await web.get(path)
        assert status == 200 and "requestAuthCode" in html and "/h5/dd.js" in html  # the sign-in page
        assert "整改亮灯" not in html and "教育局" not in html
    web.http.cookie_jar.update_cookies({COOKIE: "eyJ4IjoxfQ.forged"})
    assert "requestAuthCode" in (await web.get())[1]


async def test_mianden_signs_in_once_per_code(web: Browserless, emulator: Emulator, board_bot: BotApp) -> None:
    code = await auth_code(emulator, "bb_ld1")
    async with web.http.post(f"{web.base}/dashboard/login", json={"code": code}) as r:
        assert r.status == 200
    status, html = await web.get()
    assert status == 200 and "赵强" in html and "编办领导" in html
    async with board_bot.db.read() as session:
        signins = (await session.exec(select(AuditEvent).where(AuditEvent.action == "dashboard.signin"))).all()
    assert [e.actor_user_id for e in signins] == ["bb_ld1"]
    web.http.cookie_jar.clear()
    async with web.http.post(f"{web.base}/dashboard/login", json={"code": code}) as r:  # used already
        assert r.status == 401 and "无效或已过期" in (await r.json())["error"]
    async with web.http.post(f"{web.base}/dashboard/login", json={"code": "made-up"}) as r:
        assert r.status == 401
    async with web.http.post(f"{web.base}/dashboard/login", data={"code": code}) as r:  # a cross-site form
        assert r.status == 415
    async with web.http.post(f"{web.base}/dashboard/login", json={"code": code},
                             headers={"Origin": "http://evil.example"}) as r:
        assert r.status == 403
    assert "requestAuthCode" in (await web.get())[1]


async def test_cookie_is_signed_and_expires(web: Browserless, board_bot: BotApp) -> None:
    assert await web.sign_in("bb_ld1") == 200
    cookie = next(c for c in web.http.cookie_jar if c.key == COOKIE)
    assert cookie["httponly"] and cookie["samesite"] == "Lax"
    _payload, _, mac = cookie.value.partition(".")
    forged = SessionSigner(b"", 3600).issue("admin1")[0].partition(".")[0] + "." + mac  # another user, our MAC
    web.http.cookie_jar.clear()
    web.http.cookie_jar.update_cookies({COOKIE: forged})
    assert "requestAuthCode" in (await web.get())[1]
    other = SessionSigner(b"another secret", 3600).issue("bb_ld1")[0]  # right shape, wrong key
    web.http.cookie_jar.clear()
    web.http.cookie_jar.update_cookies({COOKIE: other})
    assert "requestAuthCode" in (await web.get())[1]
    signer = SessionSigner(b"k" * 32, 3600, clock=lambda: 1000.0)
    value, session = signer.issue("bb_ld1")
    assert signer.read(value) == session
    signer.clock = lambda: 1000.0 + 3601
    assert signer.read(value) is None  # expired
    assert signer.read(value[:-2] + "xx") is None  # altered


async def test_office_leader_sees_every_section_and_unit(web: Browserless) -> None:
    await web.sign_in("bb_ld1")
    status, html = await web.get()
    assert status == 200 and sections(html) == set(SECTIONS)
    assert {"教育局", "财政局", "城关镇", "融媒体中心"} <= set(unit_links(html))
    assert "冻结" in html and "数据截至 <b>2026-11-24 10:00</b>" in html
    assert html.count('<small class="stamp">截至 2026-11-24 10:00</small>') == len(SECTIONS)
    assert 'id="chart-rates"' in html and 'id="chart-warnings"' in html and 'id="visit-heat"' in html
    assert "/static/chartist.umd.js" in html and "cdn" not in html.lower()


async def test_unit_contact_sees_only_their_unit(web: Browserless) -> None:
    await web.sign_in("bb_ld1")
    links = unit_links((await web.get())[1])
    await web.sign_in("jyj_ll")  # 教育局 联络员
    status, html = await web.get()
    assert sections(html) == {"sec-lights", "sec-approvals", "sec-warnings"}
    assert set(unit_links(html)) == {"教育局"}
    assert "财政局" not in html and "城关镇" not in html
    status, page = await web.get(links["教育局"])
    assert status == 200 and "超编借调教师" in page and "全程记录" in page and "整改报告" in page
    status, page = await web.get(links["财政局"])
    assert status == 404 and "编外聘用" not in page


async def test_supervisor_admin_and_stranger(web: Browserless) -> None:
    await web.sign_in("jdy1")
    html = (await web.get())[1]
    assert sections(html) == {"sec-feedback"} and "您提交的" in html
    await web.sign_in("admin1")
    status, html = await web.get()
    assert status == 200 and "管理员账号不显示业务数据" in html and not sections(html)
    assert "教育局" not in html and "chart-data" not in html
    assert (await web.get("/dashboard/unit/1"))[0] == 404
    await web.sign_in("newcomer1")
    status, html = await web.get()
    assert "您还没有开通" in html and "申请绑定 单位名称" in html and not sections(html)


async def test_logout_needs_the_csrf_token(web: Browserless) -> None:
    await web.sign_in("bb_ld1")
    html = (await web.get())[1]
    token = re.search(r'name="csrf" value="([^"]+)"', html).group(1)  # type: ignore[union-attr]
    assert (await web.post("/dashboard/logout", data={"csrf": "wrong"})).status == 403
    assert (await web.post("/dashboard/logout", data={})).status == 403
    assert (await web.post("/dashboard/logout", data={"csrf": token},
                           headers={"Origin": "http://evil.example"})).status == 403
    assert "赵强" in (await web.get())[1]  # still signed in
    r = await web.post("/dashboard/logout", data={"csrf": token}, headers={"Origin": web.base})
    assert r.status == 303 and r.headers["Location"] == "/dashboard"
    assert "requestAuthCode" in (await web.get())[1]


async def test_empty_county_shows_helpful_empty_states(make_bot, emulator: Emulator) -> None:  # type: ignore[no-untyped-def]
    app = await make_bot(clock=FakeClock(NOW))
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        web = Browserless(app, emulator, http)
        await web.sign_in("bb_ld1")
        html = (await web.get())[1]
    assert sections(html) == set(SECTIONS)
    for text in ("目前没有未销号的整改问题", "近 12 个月没有日常类审批事项", "目前没有未解除的预警",
                 "2026 年还没有走访计划", "今年还没有收到监督员反馈"):
        assert text in html
    assert 'class="chart"' not in html  # no empty chart boxes


async def test_kanban_command_sends_the_link(make_bot, emulator: Emulator) -> None:  # type: ignore[no-untyped-def]
    await make_bot(dashboard={"base_url": "https://bot.example.gov.cn"})
    chat = Chat(emulator)
    reply = await chat.say("bb_ld1", "看板")
    assert reply.msg_key == "actionCard" and "监督看板" in reply.text
    (title, url), = reply.buttons
    assert title == "打开看板"
    assert url == "dingtalk://dingtalkclient/page/link?url=https%3A%2F%2Fbot.example.gov.cn%2Fdashboard&pc_slide=true"
    denied = await chat.say("jyj_ll", "看板")
    assert not denied.buttons and "打开看板" not in denied.text


async def test_kanban_command_when_not_configured(chat: Chat) -> None:
    reply = await chat.say("bb_ld1", "看板")
    assert "[dashboard] base_url" in reply.text and not reply.buttons


async def test_lights_in_sql_match_the_light_rule(demo_db) -> None:  # type: ignore[no-untyped-def]
    cal = await load_calendar(demo_db)
    rules = RectificationRules()
    rng = random.Random(5)
    for today in (date(2026, 11, 24), date(2026, 11, 28), date(2026, 10, 1), date(2027, 1, 31)):
        red_before, green_from = light_bounds(cal, today, rules.yellow_days)
        for _ in range(300):
            deadline = today + timedelta(days=rng.randint(-30, 30))
            expected = light(cal, deadline, today, "待整改", rules)
            got = RED if deadline < red_before else YELLOW if deadline < green_from else "green"
            assert got == expected, (today, deadline)


async def test_long_unit_lists_are_cut_with_a_link_to_all(web: Browserless, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pages, "UNITS_SHOWN", 2)
    await web.sign_in("bb_ld1")
    html = (await web.get())[1]
    assert list(unit_links(html)) == ["教育局", "财政局"] and "查看全部 4 个单位" in html
    html = (await web.get("/dashboard?units=all"))[1]
    assert len(unit_links(html)) == 4 and "查看全部" not in html


async def test_signin_survives_a_revoked_oapi_token(web: Browserless, emulator: Emulator) -> None:
    assert await web.sign_in("bb_ld1") == 200
    emulator.revoke_tokens()  # the bot's cached oapi token is now refused (40014): it fetches a new one
    assert await web.sign_in("bb_ywy1") == 200
    assert "李明" in (await web.get())[1]


def test_dashboard_config_is_checked(tmp_path) -> None:  # type: ignore[no-untyped-def]
    cfg = tmp_path / "config.toml"
    cfg.write_text('[dashboard]\nbase_url = "bot.example.gov.cn"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"\[dashboard\] base_url"):
        load_config(cfg, env={})
    cfg.write_text('[dashboard]\nbase_url = "https://bot.example.gov.cn"\n', encoding="utf-8")
    loaded = load_config(cfg, env={"BOT_DASHBOARD_SECRET": "s3cret"})
    assert loaded.dashboard.enabled and loaded.dashboard.session_secret == "s3cret"
    assert "s3cret" not in repr(loaded)
