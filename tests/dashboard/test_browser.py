"""监督看板 in a real browser: headless Chromium (Debian packages chromium, chromium-driver) driven by
Selenium. Sign-in is the page's own 免登 (the emulator's JSAPI stand-in asks for an authCode, the bot
exchanges it); the browser runs in a thread so that the bot keeps serving on the test's event loop.
Screenshots are saved in the test's tmp folder. Run once, on SQLite (the HTTP tests cover PostgreSQL).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.app import BotApp
from bot.emulator import Emulator

CHROMIUM, CHROMEDRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")
if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
    pytest.skip("browser tests need /usr/bin/chromium and /usr/bin/chromedriver "
                "(apt-get install chromium chromium-driver)", allow_module_level=True)
webdriver = pytest.importorskip("selenium.webdriver", reason="browser tests need selenium (pip install -e '.[dev]')")
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support import expected_conditions as EC  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

PHONE, DESKTOP = (390, 844), (1366, 900)
CHARTS = {"chart-rates": ".ct-point", "chart-types": ".ct-bar", "chart-warnings": ".ct-bar",
          "chart-feedback": ".ct-bar"}
ALL_SECTIONS = {"sec-lights", "sec-approvals", "sec-warnings", "sec-visits", "sec-feedback"}


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    profile = tempfile.mkdtemp(prefix="bianban-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for arg in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--no-first-run", f"--user-data-dir={profile}", "--lang=zh-CN"):
        options.add_argument(arg)
    os.environ.setdefault("SE_OFFLINE", "true")  # never let Selenium Manager download anything
    driver = webdriver.Chrome(options=options, service=webdriver.ChromeService(executable_path=str(CHROMEDRIVER)))
    driver.set_page_load_timeout(20)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture
def sqlite_only(db_url: str) -> None:
    if not db_url.startswith("sqlite"):
        pytest.skip("the browser suite runs once, on SQLite; tests/dashboard/test_dashboard.py covers PostgreSQL")


def _wait(driver: Any, css: str, timeout: float = 10) -> Any:
    return WebDriverWait(driver, timeout).until(EC.presence_of_element_located((By.CSS_SELECTOR, css)))


def open_as(driver: Any, base: str, user: str, size: tuple[int, int] = PHONE) -> None:
    """Open the board as DingTalk would for `user`, with no session: the page signs in by itself."""
    driver.set_window_size(*size)
    driver.get(base + "/dashboard/static/dashboard.css")  # same origin, to clear its cookies
    driver.delete_all_cookies()
    driver.get(f"{base}/dashboard?dd_user={user}")
    _wait(driver, "#whoami")
    assert "requestAuthCode" not in driver.page_source  # signed in: the sign-in page reloaded into the board


def shown_sections(driver: Any) -> set[str]:
    return {e.get_attribute("id") for e in driver.find_elements(By.CSS_SELECTOR, "section.card[id^=sec-]")}


def screenshot(driver: Any, path: Path) -> None:
    """The whole page: the window is made as tall as the document first."""
    width = driver.get_window_size()["width"]
    height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.set_window_size(width, min(int(height) + 120, 6000))
    driver.execute_script("window.scrollTo(0, 0)")
    driver.save_screenshot(str(path))


async def in_thread(fn: Callable[..., Any], *args: Any) -> Any:
    return await asyncio.to_thread(fn, *args)


def base_of(app: BotApp) -> str:
    return f"http://127.0.0.1:{app.port}"


@pytest.mark.usefixtures("sqlite_only")
async def test_each_role_sees_its_own_board(browser: Any, board_bot: BotApp, tmp_path: Path) -> None:
    base = base_of(board_bot)

    def scenario() -> None:
        expected = {"bb_ld1": ALL_SECTIONS, "bb_ywy1": ALL_SECTIONS,
                    "jyj_ll": {"sec-lights", "sec-approvals", "sec-warnings"}, "jdy1": {"sec-feedback"}}
        for user, wanted in expected.items():
            open_as(browser, base, user)
            assert shown_sections(browser) == wanted, user
        open_as(browser, base, "jyj_ll")
        units = [e.get_attribute("data-unit") for e in browser.find_elements(By.CSS_SELECTOR, "a.unit-row")]
        assert units == ["教育局"]
        assert "财政局" not in browser.find_element(By.TAG_NAME, "main").text
        screenshot(browser, tmp_path / "unit-contact-phone.png")
        open_as(browser, base, "admin1")
        assert "管理员账号不显示业务数据" in browser.page_source and not shown_sections(browser)
        assert not browser.find_elements(By.CSS_SELECTOR, "a.unit-row, .chart, #chart-data")
        browser.set_window_size(*PHONE)
        browser.delete_all_cookies()
        browser.get(f"{base}/dashboard?dd_user=newcomer1")
        _wait(browser, "#apply")
        assert "申请绑定 单位名称" in browser.find_element(By.ID, "apply").text
        screenshot(browser, tmp_path / "stranger-phone.png")

    await in_thread(scenario)
    assert (tmp_path / "unit-contact-phone.png").stat().st_size > 10_000


@pytest.mark.usefixtures("sqlite_only")
async def test_click_from_a_unit_to_its_problems(browser: Any, board_bot: BotApp, tmp_path: Path) -> None:
    base = base_of(board_bot)

    def scenario() -> None:
        open_as(browser, base, "bb_ld1")
        row = browser.find_element(By.CSS_SELECTOR, 'a.unit-row[data-unit="教育局"]')
        assert "冻结" in row.text and row.get_attribute("data-red") == "1"
        row.click()
        _wait(browser, "#unit-problems")
        assert "/dashboard/unit/" in browser.current_url
        problems = browser.find_elements(By.CSS_SELECTOR, "article.problem")
        assert len(problems) == 3 and problems[0].get_attribute("class") == "problem red"
        first = problems[0]
        assert "期限" in first.text and "超编借调教师" in first.text
        history = first.find_element(By.CSS_SELECTOR, "details.history")
        history.find_element(By.TAG_NAME, "summary").click()
        assert "交办" in history.find_element(By.TAG_NAME, "ol").text
        screenshot(browser, tmp_path / "unit-problems-phone.png")
        browser.find_element(By.LINK_TEXT, "← 返回看板").click()
        _wait(browser, "#sec-lights")

    await in_thread(scenario)


@pytest.mark.usefixtures("sqlite_only")
async def test_every_chart_renders_on_phone_and_desktop(browser: Any, board_bot: BotApp, tmp_path: Path) -> None:
    base = base_of(board_bot)

    def check(size: tuple[int, int], name: str) -> None:
        open_as(browser, base, "bb_ld1", size)
        for chart_id, mark in CHARTS.items():
            box = _wait(browser, f"#{chart_id} svg")
            points = browser.find_elements(By.CSS_SELECTOR, f"#{chart_id} {mark}")
            assert len(points) >= 3, (size, chart_id, len(points))
            assert box.size["width"] > 0.6 * min(size[0], 600) - 40 and box.size["height"] > 150, (chart_id, box.size)
            labels = browser.find_elements(By.CSS_SELECTOR, f"#{chart_id} .ct-label")
            assert any(label.text.strip() for label in labels), chart_id
        heat = browser.find_elements(By.CSS_SELECTOR, "#visit-heat td.done, #visit-heat td.late, td.planned")
        assert len(heat) >= 6
        body_width = browser.execute_script("return document.documentElement.scrollWidth")
        assert body_width <= size[0] + 1, ("the page scrolls sideways", body_width)
        for section in browser.find_elements(By.CSS_SELECTOR, "section.card[id^=sec-]"):
            section.screenshot(str(tmp_path / f"{name}-{section.get_attribute('id')}.png"))
        screenshot(browser, tmp_path / f"board-{name}.png")

    await in_thread(check, PHONE, "phone")
    await in_thread(check, DESKTOP, "desktop")
    for name in ("phone", "desktop"):
        assert (tmp_path / f"board-{name}.png").stat().st_size > 20_000


@pytest.mark.usefixtures("sqlite_only")
async def test_chat_page_board_button_and_kanban_card(browser: Any, board_bot: BotApp, emulator: Emulator) -> None:
    def scenario() -> None:
        browser.set_window_size(*DESKTOP)
        browser.get(emulator.base_url + "/")
        _wait(browser, "#persona option[value=jyj_ll]")
        browser.find_element(By.CSS_SELECTOR, "#persona option[value=jyj_ll]").click()
        WebDriverWait(browser, 10).until(EC.visibility_of_element_located((By.ID, "board"))).click()
        WebDriverWait(browser, 10).until(lambda d: len(d.window_handles) == 2)
        chat_tab = browser.current_window_handle
        browser.switch_to.window(next(h for h in browser.window_handles if h != chat_tab))
        _wait(browser, "#whoami")
        assert "王芳" in browser.find_element(By.ID, "whoami").text
        assert shown_sections(browser) == {"sec-lights", "sec-approvals", "sec-warnings"}
        browser.close()
        browser.switch_to.window(chat_tab)
        browser.delete_all_cookies()
        browser.find_element(By.CSS_SELECTOR, "#persona option[value=bb_ld1]").click()
        browser.find_element(By.ID, "text").send_keys("看板\n")
        button = WebDriverWait(browser, 10).until(
            EC.element_to_be_clickable((By.XPATH, "//button[@data-url and text()='打开看板']")))
        button.click()
        WebDriverWait(browser, 10).until(lambda d: len(d.window_handles) == 2)
        browser.switch_to.window(next(h for h in browser.window_handles if h != chat_tab))
        _wait(browser, "#whoami")
        assert "赵强" in browser.find_element(By.ID, "whoami").text and shown_sections(browser) == ALL_SECTIONS
        browser.close()
        browser.switch_to.window(chat_tab)

    await in_thread(scenario)


@pytest.mark.usefixtures("sqlite_only")
async def test_outside_dingtalk_the_real_jsapi_asks_to_open_in_dingtalk(browser: Any, make_bot) -> None:  # type: ignore[no-untyped-def]
    app = await make_bot(dashboard={"jsapi_url": ""})  # the bot's own copy of the DingTalk JSAPI

    def scenario() -> None:
        browser.set_window_size(*PHONE)
        browser.get(f"{base_of(app)}/dashboard/static/dashboard.css")
        browser.delete_all_cookies()
        browser.get(f"{base_of(app)}/dashboard")
        assert browser.find_element(By.CSS_SELECTOR, 'script[src="/dashboard/static/dingtalk.open.js"]')
        WebDriverWait(browser, 10).until(EC.text_to_be_present_in_element((By.ID, "status"), "请在钉钉客户端中打开"))
        assert browser.execute_script("return typeof dd.runtime.permission.requestAuthCode") == "function"
        assert not browser.find_elements(By.ID, "whoami")

    await in_thread(scenario)
