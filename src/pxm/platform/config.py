"""Settings: the only reader of the environment (prefix ``PXM_``)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Annotated

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PXM_", env_file=".env", extra="ignore")

    database_url: str = "sqlite:///var/pxm.db"
    # Directory that holds the session secret and the PHI keys; never inside the database.
    key_dir: Path = Path("var/keys")
    secret_key_file: Path | None = None
    phi_key_file: Path | None = None
    redis_url: str | None = None
    # "embedded": an in-process worker inside `pxm serve`; "dramatiq": jobs go to Redis for `pxm worker`.
    jobs_mode: str = Field(default="embedded", pattern="^(embedded|dramatiq)$")
    jobs_poll_seconds: float = 1.0
    jobs_sweep_seconds: float = 30.0
    jobs_stale_seconds: float = 120.0
    # Extra modules that register job handlers (PXM_JOB_MODULES, comma-separated), imported at worker start.
    job_modules: Annotated[list[str], NoDecode] = Field(default_factory=list)
    # Dramatiq on Redis: the queue name and the key namespace (several installs can share one Redis).
    jobs_queue: str = "pxm-jobs"
    redis_namespace: str = "pxm"
    session_idle_minutes: int = 15
    session_absolute_hours: int = 12
    session_cookie_name: str = "pxm_session"
    cookie_secure: bool = False
    login_max_failures: int = 5
    login_lockout_minutes: int = 15
    login_ip_max_failures: int = 20  # failed sign-ins per client address per window (all usernames)
    login_ip_window_minutes: int = 15
    host: str = "127.0.0.1"
    port: int = 8000
    # `pxm serve` web worker processes (PXM_WORKERS); each has its own database pool (PostgreSQL: up to 30).
    workers: int = Field(default=1, ge=1)
    # Threads per process that run the busiest write handlers (contact creation) at once (PXM_WRITE_THREADS).
    # More only make them wait for each other's GIL: on SQLite one transaction writes at a time anyway.
    write_threads: int = Field(default=2, ge=1)
    # PostgreSQL: a pooled connection idle this long is checked (SELECT 1) before use; 0 checks on every
    # checkout (PXM_DB_PING_AFTER_SECONDS).
    db_ping_after_seconds: float = Field(default=5.0, ge=0)
    # PostgreSQL: the hot statements as named prepared statements, prepared once per connection; false sends them
    # unprepared, for a pooler that cannot keep a client's prepared statements (PXM_DB_PREPARED_STATEMENTS).
    db_prepared_statements: bool = True
    log_level: str = "INFO"
    log_json: bool = True
    public_base_url: str = "http://127.0.0.1:8000"
    timezone: str = "UTC"
    # Messages (survey invitations): "outbox" only records them (demo); "smtp" sends email via the server below.
    email_sender: str = Field(default="outbox", pattern="^(outbox|smtp)$")
    sms_sender: str = "outbox"  # "outbox" or a dotted path "module:factory" returning an SMS sender
    smtp_host: str = "localhost"
    smtp_port: int = 25
    smtp_username: str | None = None
    smtp_password: str | None = None
    smtp_starttls: bool = False
    smtp_from: str = "PXM Surveys <surveys@pxm.invalid>"
    # Survey invitations: at most one per patient per fatigue window, across all surveys.
    feedback_fatigue_days: int = 30
    feedback_delay_hours: float = 24.0
    feedback_expiry_days: int = 14
    feedback_reminder_days: int = 3
    feedback_max_reminders: int = 1

    @field_validator("job_modules", mode="before")
    @classmethod
    def _split_modules(cls, value: object) -> object:
        if isinstance(value, str):
            return [m.strip() for m in value.split(",") if m.strip()]
        return value

    @property
    def secret_key_path(self) -> Path:
        return self.secret_key_file or self.key_dir / "secret.key"

    @property
    def phi_key_path(self) -> Path:
        return self.phi_key_file or self.key_dir / "phi.key"

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
