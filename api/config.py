"""Settings, read from the environment once and cached.

Every setting is documented in README.md with its default; keep the two in step.
"""

from __future__ import annotations

import ipaddress
import secrets
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

DEFAULT_VAR_DIR = Path("./var")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore", case_sensitive=False)

    environment: Literal["development", "test", "production"] = "development"
    database_url: str = f"sqlite:///{DEFAULT_VAR_DIR / 'advocacy.db'}"
    # Sized together with the worker thread pool so requests never wait on "QueuePool limit".
    db_pool_size: int = Field(default=40, ge=1, le=500)
    thread_pool_size: int = Field(default=40, ge=1, le=500)
    # A database that is down or hung is answered 503 within these, never a hang: connecting
    # (and waiting for a pooled connection), and any one statement. On SQLite the statement
    # timeout is the busy timeout (waiting for another process's write lock).
    db_connect_timeout_seconds: int = Field(default=5, ge=2, le=60)
    db_statement_timeout_seconds: float = Field(default=10.0, ge=0.5, le=600)
    # Bounds on what clients may hold open (api.capacity). 0 means "from the file-descriptor
    # limit": connections up to it less a reserve, event streams up to half of that.
    server_max_connections: int = Field(default=0, ge=0)
    sse_max_streams: int = Field(default=0, ge=0)
    sse_max_streams_per_client: int = Field(default=8, ge=1, le=10_000)

    secret_key: SecretStr | None = None
    public_base_url: str = "http://127.0.0.1:8000"
    cors_origins: Annotated[list[str], NoDecode] = Field(default_factory=list)

    smtp_url: SecretStr | None = None
    mail_dir: Path = DEFAULT_VAR_DIR / "mail"
    mail_from: str = "Minimum Arrest Age campaign <petition@localhost>"
    mail_worker_in_process: bool = True
    mail_poll_seconds: float = Field(default=0.5, gt=0, le=60)
    # How long a worker owns the mail it claimed; a worker that dies leaves its unsent (and
    # at most one in-flight per SMTP session) mail to be sent again after this.
    mail_lease_seconds: float = Field(default=120, ge=1, le=3600)
    # "<mails>/<seconds>" to one recipient (any template, whoever asks).
    mail_recipient_limit: str = Field(default="8/3600", pattern=r"^\d+/\d+$")

    # How long a process may serve a count before re-reading it (exact within this).
    count_cache_seconds: float = Field(default=1.0, ge=0, le=60)
    # How long a process may replay a public JSON response (Cache-Control: public) to other
    # readers of the same URL before building it again; 0 turns the micro-cache off.
    response_cache_seconds: float = Field(default=1.0, ge=0, le=60)

    # Who runs the petition and what happens to it, shown on /about and linked from every page
    # and email. Empty means "not published yet", and the page says so.
    organiser_name: str = Field(default="", max_length=200)
    contact_email: str = Field(default="", max_length=320)
    # How and when the petition is delivered; empty shows a generic description.
    delivery_plan: str = Field(default="", max_length=2000)
    # A fuller privacy notice elsewhere (https URL), linked from /about; empty: none.
    privacy_notice_url: str = Field(default="", max_length=500)
    # A petition's share image (/petitions/{slug}/share.png) is drawn again at most this often.
    share_image_seconds: float = Field(default=300.0, ge=1, le=86400)

    redis_url: str | None = None
    # Connect and read timeout of every Redis call: a hung Redis costs a request this long at
    # most, and only once per RATE_LIMIT_REDIS_RETRY_SECONDS (see api/abuse/ratelimit.py).
    redis_timeout_seconds: float = Field(default=0.5, gt=0, le=30)
    # Redis unreachable: `local` falls back to this process's own counters (email confirmation
    # stays the proof of a person), `closed` answers 503 to signing and access requests.
    rate_limit_on_redis_error: Literal["local", "closed"] = "local"
    rate_limit_redis_retry_seconds: float = Field(default=5.0, gt=0, le=300)
    rate_limit_enabled: bool = True
    # "<count>/<seconds>" per client IP and petition. Signing: ACCEPTED signatures only, past
    # either limit a signature is taken but held for staff review. Access links: requests.
    rate_limit_burst: str = Field(default="60/60", pattern=r"^\d+/\d+$")
    rate_limit_sustained: str = Field(default="600/3600", pattern=r"^\d+/\d+$")
    # Every signing request, refused or not, per client IP and petition; past it: 429.
    rate_limit_requests: str = Field(default="300/60", pattern=r"^\d+/\d+$")
    # A reminder to signers who have not confirmed after this many hours; 0 sends none.
    reminder_after_hours: float = Field(default=48, ge=0, le=24 * 6)
    # Peers whose X-Forwarded-For is believed (IPs or CIDRs, comma-separated).
    trusted_proxies: Annotated[list[str], NoDecode] = Field(default_factory=list)
    retention_days: int = Field(default=180, ge=1)
    # A request with an Idempotency-Key still "in progress" after this (its process died) is
    # processed again by the next retry.
    idempotency_lease_seconds: float = Field(default=30, ge=1, le=3600)

    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    # "json": one JSON object per line (for a log pipeline); "text": readable lines.
    log_format: Literal["text", "json"] = "text"
    # /metrics answers only `Authorization: Bearer <this>`; without it, /metrics is a 404.
    metrics_token: SecretStr | None = Field(default=None, min_length=16)
    max_body_bytes: int = Field(default=64 * 1024, ge=1024, le=10 * 1024 * 1024)
    var_dir: Path = DEFAULT_VAR_DIR

    @field_validator("cors_origins", "trusted_proxies", mode="before")
    @classmethod
    def _split_origins(cls, value: object) -> object:
        if isinstance(value, str):
            return [origin.strip() for origin in value.split(",") if origin.strip()]
        return value

    @field_validator("trusted_proxies")
    @classmethod
    def _valid_networks(cls, value: list[str]) -> list[str]:
        for entry in value:
            try:
                ipaddress.ip_network(entry, strict=False)
            except ValueError as exc:
                raise ValueError(f"TRUSTED_PROXIES: {entry!r} is not an IP or CIDR") from exc
        return value

    @field_validator("metrics_token", mode="before")
    @classmethod
    def _empty_token_is_none(cls, value: object) -> object:
        return None if value == "" else value

    @field_validator("public_base_url")
    @classmethod
    def _strip_trailing_slash(cls, value: str) -> str:
        return value.rstrip("/")

    @model_validator(mode="after")
    def _require_secret_in_production(self) -> Settings:
        if self.environment == "production" and self.secret_key is None:
            raise ValueError("SECRET_KEY is required when ENVIRONMENT=production")
        return self

    def secret(self) -> bytes:
        """The server secret used for keyed hashes and tokens.

        Outside production a missing SECRET_KEY is generated once and kept under VAR_DIR, so
        hashes stay stable across restarts of a development box.
        """
        if self.secret_key is not None:
            return self.secret_key.get_secret_value().encode()
        return _development_secret(self.var_dir)


@lru_cache(maxsize=8)
def _development_secret(var_dir: Path) -> bytes:
    path = var_dir / "secret_key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(48))
        path.chmod(0o600)
    return path.read_text().strip().encode()


@lru_cache
def get_settings() -> Settings:
    return Settings()
