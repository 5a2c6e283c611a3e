"""Configuration: one TOML file, validated once at start-up into typed dataclasses.

Every key is documented in config.example.toml. A missing or wrong key raises ConfigError with
one line that names the key; secrets may come from the environment instead of the file.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
from dataclasses import dataclass, field
from datetime import time
from pathlib import Path
from typing import Any

from models.approvals.tables import TYPES
from models.evaluation.rules import EvaluationRules
from models.rectification.rules import RectificationRules

SECRET_ENV = {
    ("dingtalk", "client_secret"): "BOT_DINGTALK_CLIENT_SECRET",
    ("server", "api_token"): "BOT_API_TOKEN",
    ("database", "url"): "BOT_DATABASE_URL",
    ("dashboard", "session_secret"): "BOT_DASHBOARD_SECRET",
}


class ConfigError(Exception):
    """A configuration problem, phrased as one line naming the key."""


@dataclass(frozen=True)
class DingTalkConfig:
    client_id: str = ""
    client_secret: str = field(default="", repr=False)
    robot_code: str = ""  # defaults to client_id, as DingTalk does for app robots
    api_endpoint: str = "https://api.dingtalk.com"
    oapi_endpoint: str = "https://oapi.dingtalk.com"
    http_timeout: float = 10.0
    watchdog_seconds: float = 90.0  # reconnect a socket that has been silent this long

    @property
    def robot(self) -> str:
        return self.robot_code or self.client_id


@dataclass(frozen=True)
class DatabaseConfig:
    url: str = field(default="", repr=False)


@dataclass(frozen=True)
class ServerConfig:
    host: str = "127.0.0.1"
    port: int = 8080
    api_token: str = field(default="", repr=False)


@dataclass(frozen=True)
class BotConfig:
    timezone: str = "Asia/Shanghai"
    rate_limit_count: int = 60  # messages a user may send (a flood guard: nobody types this fast) ...
    rate_limit_seconds: int = 60  # ... within this window
    log_level: str = "INFO"


@dataclass(frozen=True)
class OutboxConfig:
    poll_seconds: float = 1.0
    batch_size: int = 50
    lease_seconds: int = 60
    max_attempts: int = 8
    retry_base_seconds: float = 2.0  # full-jitter backoff: uniform(0, min(600, base * 2**attempts))
    rate_per_second: float = 20.0
    unknown_seconds: float = 60.0  # how long a send that got no answer waits for a late one before a resend


@dataclass(frozen=True)
class StorageConfig:
    dir: str = ""  # attachments received from units; empty = files/ beside the config file
    max_file_mb: int = 20  # larger pictures and files are refused
    min_free_mb: int = 1024  # `doctor` fails when the disk of `dir` has less free space


@dataclass(frozen=True)
class RectificationConfig:
    """整改 rules (docs/rules.md); times are Beijing time "HH:MM"."""

    yellow_days: int = 5
    remind_before: list = field(default_factory=lambda: [5, 3, 1])  # working days before the deadline
    overdue_every: int = 3
    escalate_office_after: int = 5
    freeze_after: int = 10
    send_at: str = "09:00"
    quiet_start: str = "18:00"
    quiet_end: str = "08:30"
    quiet_on_rest_days: bool = True

    def rules(self) -> RectificationRules:
        return RectificationRules(
            yellow_days=self.yellow_days, remind_before=tuple(self.remind_before), overdue_every=self.overdue_every,
            escalate_office_after=self.escalate_office_after, freeze_after=self.freeze_after,
            send_at=_clock_time(self.send_at), quiet_start=_clock_time(self.quiet_start),
            quiet_end=_clock_time(self.quiet_end), quiet_on_rest_days=self.quiet_on_rest_days,
        )


def _clock_time(text: str) -> time:
    return time.fromisoformat(text)


@dataclass(frozen=True)
class ApprovalsConfig:
    """审批 sources: DingTalk OA process codes mapped to business types (empty = no OA events)."""

    process_codes: dict = field(default_factory=dict)  # processCode → one of models.approvals.tables.TYPES


@dataclass(frozen=True)
class WarningsConfig:
    """预警 thresholds (docs/rules.md)."""

    critical_ratio: float = 0.95  # 临界 at this share of the approved establishment
    retire_soon_months: int = 6  # 临退: retiring this month or within the next this-many months
    stale_days: int = 90  # 数据陈旧 after this many days without an update
    elsewhere_months: int = 6  # working in another unit this long counts as 混岗


@dataclass(frozen=True)
class FeedbackConfig:
    """监督员反馈."""

    duty_user_ids: list = field(default_factory=list)  # office staff on the feedback duty list; empty = all
    answer_within_days: int = 10  # working days before unanswered feedback is reminded


@dataclass(frozen=True)
class VisitsConfig:
    """下沉式走访."""

    time_limit_seconds: float = 10.0  # the planner's time limit (most counties are proven optimal in < 2 s)


@dataclass(frozen=True)
class RetentionConfig:
    """How long personal data in the inbound audit is kept."""

    message_text_days: int = 1095  # blank received message texts after this many days; 0 = keep forever


@dataclass(frozen=True)
class LoggingConfig:
    format: str = "text"  # "text" (human) or "json" (one JSON object per line)


@dataclass(frozen=True)
class EvaluationConfig:
    """监管评价 (docs/evaluation.md)."""

    weights: list = field(default_factory=lambda: [20, 30, 30, 20])  # 日常/重点工作/履职考评系统/随机监管
    weights_by_year: dict = field(default_factory=dict)  # {"2028" = "25,25,30,20"}
    tier_shares: list = field(default_factory=lambda: [20, 50, 20, 10])  # 优秀/良好/达标/不达标 %
    last_n: int = 5  # 后五名
    complaints_per_quarter: int = 3  # 异常名录: complaints in one quarter
    recurrence_days: int = 365  # 异常名录: the same kind of problem again within this many days
    watch_failing: bool = True  # 异常名录: 不达标 units
    interview_remind_every: int = 5  # working days between 约谈 reminders

    def year_weights(self) -> dict[int, tuple[float, ...]]:
        return {int(y): tuple(float(x) for x in str(v).replace("，", ",").split(","))
                for y, v in self.weights_by_year.items()}

    def rules(self, stale_days: int = 90) -> EvaluationRules:
        return EvaluationRules(
            weights=tuple(float(w) for w in self.weights), weights_by_year=self.year_weights(),
            tier_shares=tuple(int(s) for s in self.tier_shares), last_n=self.last_n, stale_days=stale_days,
            complaints_per_quarter=self.complaints_per_quarter, recurrence_days=self.recurrence_days,
            watch_failing=self.watch_failing, interview_remind_every=self.interview_remind_every)


@dataclass(frozen=True)
class DashboardConfig:
    """监督看板: the H5 page opened inside DingTalk (免登)."""

    base_url: str = ""  # the bot's HTTP server as DingTalk clients reach it, e.g. https://bot.example.gov.cn
    corp_id: str = ""  # the organisation's corpId (requestAuthCode needs it)
    jsapi_url: str = ""  # the DingTalk JSAPI script; empty = the copy the bot serves
    session_secret: str = field(default="", repr=False)  # signs the session cookie; empty = random per start
    session_hours: int = 8  # a session cookie expires after this many hours

    @property
    def enabled(self) -> bool:
        return bool(self.base_url)


@dataclass(frozen=True)
class Config:
    dingtalk: DingTalkConfig = field(default_factory=DingTalkConfig)
    database: DatabaseConfig = field(default_factory=DatabaseConfig)
    server: ServerConfig = field(default_factory=ServerConfig)
    bot: BotConfig = field(default_factory=BotConfig)
    outbox: OutboxConfig = field(default_factory=OutboxConfig)
    storage: StorageConfig = field(default_factory=StorageConfig)
    rectification: RectificationConfig = field(default_factory=RectificationConfig)
    approvals: ApprovalsConfig = field(default_factory=ApprovalsConfig)
    warnings: WarningsConfig = field(default_factory=WarningsConfig)
    feedback: FeedbackConfig = field(default_factory=FeedbackConfig)
    visits: VisitsConfig = field(default_factory=VisitsConfig)
    retention: RetentionConfig = field(default_factory=RetentionConfig)
    logging: LoggingConfig = field(default_factory=LoggingConfig)
    evaluation: EvaluationConfig = field(default_factory=EvaluationConfig)
    dashboard: DashboardConfig = field(default_factory=DashboardConfig)
    base_dir: Path = Path(".")

    @property
    def storage_dir(self) -> Path:
        """Where received attachments are kept; a relative `dir` is taken from the config file's folder."""
        if not self.storage.dir:
            return self.base_dir / "files"
        return self.base_dir / Path(self.storage.dir).expanduser()

    def require_dingtalk(self) -> None:
        """`run` needs credentials; import and db commands do not."""
        for key in ("client_id", "client_secret"):
            if not getattr(self.dingtalk, key):
                hint = f"（或环境变量 {SECRET_ENV[('dingtalk', key)]}）" if key == "client_secret" else ""
                raise ConfigError(f"配置缺少 [dingtalk] {key}{hint}")


_SECTIONS = {f.name: f.type for f in dataclasses.fields(Config) if f.name != "base_dir"}


def _section_class(name: str) -> type:
    return {
        "dingtalk": DingTalkConfig,
        "database": DatabaseConfig,
        "server": ServerConfig,
        "bot": BotConfig,
        "outbox": OutboxConfig,
        "storage": StorageConfig,
        "rectification": RectificationConfig,
        "approvals": ApprovalsConfig,
        "warnings": WarningsConfig,
        "feedback": FeedbackConfig,
        "visits": VisitsConfig,
        "retention": RetentionConfig,
        "logging": LoggingConfig,
        "evaluation": EvaluationConfig,
        "dashboard": DashboardConfig,
    }[name]


_TYPE_NAMES = {"str": "文本（加引号，如 \"abc\"）", "int": "整数（如 8080）", "float": "数字（如 10.0）",
               "bool": " true 或 false"}


def _toml(value: Any) -> str:
    """A value as it is written in the TOML file."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f"\"{value}\""
    return str(value)


def _coerce(section: str, key: str, value: Any, expected: Any) -> Any:
    if expected == "list":
        ints = all(isinstance(v, int) and not isinstance(v, bool) for v in value) if isinstance(value, list) else False
        strs = all(isinstance(v, str) for v in value) if isinstance(value, list) else False
        if not (ints or strs):
            raise ConfigError(f"配置项 [{section}] {key} 类型错误：应为列表，如 [5, 3, 1] 或 [\"user1\", \"user2\"]")
        return value
    if expected == "dict":
        if not isinstance(value, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
            raise ConfigError(f"配置项 [{section}] {key} 类型错误：应为表，如 {{ \"PROC-XXX\" = \"用编核准\" }}")
        return dict(value)
    wanted = {"str": str, "int": int, "float": float, "bool": bool}[expected]
    if wanted is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if (wanted is int and isinstance(value, bool)) or not isinstance(value, wanted):
        raise ConfigError(f"配置项 [{section}] {key} 类型错误：应为{_TYPE_NAMES[expected]}，实际为 {_toml(value)}")
    return value


def _build_section(name: str, raw: dict[str, Any], env: dict[str, str]) -> Any:
    cls = _section_class(name)
    types = {f.name: f.type for f in dataclasses.fields(cls)}
    values: dict[str, Any] = {}
    for key, value in raw.items():
        if key not in types:
            raise ConfigError(f"未知配置项 [{name}] {key}（可用：{', '.join(types)}）")
        values[key] = _coerce(name, key, value, types[key])
    for (section, key), var in SECRET_ENV.items():
        if section == name and env.get(var):
            values[key] = env[var]
    return cls(**values)


def load_config(path: str | Path | None, env: dict[str, str] | None = None) -> Config:
    """Read and validate the TOML file; `None` means all defaults (used by `demo`)."""
    env = dict(os.environ) if env is None else env
    raw: dict[str, Any] = {}
    base_dir = Path.cwd()
    if path is not None:
        p = Path(path)
        if not p.is_file():
            raise ConfigError(f"找不到配置文件 {p}（可复制 config.example.toml 修改）")
        try:
            raw = tomllib.loads(p.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as e:
            raise ConfigError(f"配置文件 {p} 格式错误：{e}") from None
        base_dir = p.resolve().parent
    for name in raw:
        if name not in _SECTIONS:
            raise ConfigError(f"未知配置节 [{name}]（可用：{', '.join(_SECTIONS)}）")
        if not isinstance(raw[name], dict):
            raise ConfigError(f"配置项 {name} 应为一个节 [{name}]")
    sections = {name: _build_section(name, raw.get(name, {}), env) for name in _SECTIONS}
    cfg = Config(**sections, base_dir=base_dir)
    _validate(cfg)
    if not cfg.database.url:
        url = f"sqlite+aiosqlite:///{base_dir / 'bianban.db'}"
        cfg = dataclasses.replace(cfg, database=DatabaseConfig(url=url))
    return cfg


def _validate(cfg: Config) -> None:
    for key in ("send_at", "quiet_start", "quiet_end"):
        try:
            _clock_time(getattr(cfg.rectification, key))
        except ValueError:
            raise ConfigError(f"配置项 [rectification] {key} 应为 HH:MM 格式的时间") from None
    before = cfg.rectification.remind_before
    if not before or not all(isinstance(d, int) for d in before) or min(before) < 1:
        raise ConfigError("配置项 [rectification] remind_before 应为正整数列表，如 [5, 3, 1]")
    for key in ("api_endpoint", "oapi_endpoint"):
        value = getattr(cfg.dingtalk, key)
        if not value.startswith(("http://", "https://")):
            raise ConfigError(f"配置项 [dingtalk] {key} 应以 http:// 或 https:// 开头")
    if not 0 < cfg.server.port < 65536:
        raise ConfigError("配置项 [server] port 应在 1-65535 之间")
    url = cfg.database.url
    if url and not url.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
        raise ConfigError("配置项 [database] url 应以 sqlite+aiosqlite:// 或 postgresql+asyncpg:// 开头")
    if cfg.bot.rate_limit_count < 1 or cfg.bot.rate_limit_seconds < 1:
        raise ConfigError("配置项 [bot] rate_limit_count / rate_limit_seconds 应为正整数")
    if not 1 <= cfg.storage.max_file_mb <= 1024:
        raise ConfigError("配置项 [storage] max_file_mb 应在 1-1024 之间")
    for code, kind in cfg.approvals.process_codes.items():
        if not code.strip() or kind not in TYPES:
            choices = "、".join(TYPES)
            raise ConfigError(f"配置项 [approvals] process_codes 中“{code}”的业务类型“{kind}”无效（可选：{choices}）")
    if cfg.retention.message_text_days < 0:
        raise ConfigError("配置项 [retention] message_text_days 应为 0（永久保留）或正整数")
    if cfg.logging.format not in ("text", "json"):
        raise ConfigError("配置项 [logging] format 应为 text 或 json")
    _validate_evaluation(cfg.evaluation)
    if cfg.dashboard.base_url and not cfg.dashboard.base_url.startswith(("http://", "https://")):
        raise ConfigError("配置项 [dashboard] base_url 应以 http:// 或 https:// 开头")
    if not 1 <= cfg.dashboard.session_hours <= 720:
        raise ConfigError("配置项 [dashboard] session_hours 应在 1-720 之间")
    if cfg.bot.log_level.upper() not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
        raise ConfigError("配置项 [bot] log_level 应为 DEBUG/INFO/WARNING/ERROR 之一")


def _validate_evaluation(ev: EvaluationConfig) -> None:
    if len(ev.weights) != 4 or abs(sum(ev.weights) - 100) > 1e-6 or min(ev.weights) < 0:
        raise ConfigError("配置项 [evaluation] weights 应为四个非负数，合计 100，如 [20, 30, 30, 20]")
    try:
        by_year = ev.year_weights()
    except ValueError:
        raise ConfigError("配置项 [evaluation] weights_by_year 应写成 { \"2028\" = \"25,25,30,20\" }") from None
    for year, weights in by_year.items():
        if len(weights) != 4 or abs(sum(weights) - 100) > 1e-6 or min(weights) < 0:
            raise ConfigError(f"配置项 [evaluation] weights_by_year 中 {year} 年的权重应为四个非负数，合计 100")
    if len(ev.tier_shares) != 4 or sum(ev.tier_shares) != 100 or min(ev.tier_shares) < 0:
        raise ConfigError("配置项 [evaluation] tier_shares 应为四个非负整数，合计 100，如 [20, 50, 20, 10]")
    if ev.last_n < 0 or ev.complaints_per_quarter < 1 or ev.recurrence_days < 1 or ev.interview_remind_every < 1:
        raise ConfigError("配置项 [evaluation] last_n、complaints_per_quarter、recurrence_days、"
                          "interview_remind_every 应为正整数")
