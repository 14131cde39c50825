"""Configuration from the environment (and a .env file), as documented in .env.example."""

from __future__ import annotations

from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    database_url: str = "sqlite:///ambition-bot.sqlite3"
    slack_bot_token: SecretStr | None = None
    slack_signing_secret: SecretStr | None = None
    slack_app_token: SecretStr | None = None
    slack_api_url: str = "https://slack.com/api/"
    microsoft_app_id: str = ""
    microsoft_app_password: SecretStr | None = None
    microsoft_app_tenant_id: str = ""
    bot_language: Literal["da", "en"] = "da"
    bot_timezone: str = "Europe/Copenhagen"
    public_base_url: str = ""
    # Workshop minutes per real minute, for demos and tests (60: a real second is a minute).
    # Unset: real time for `serve`; `demo` and `console` move time only when told to.
    bot_time_scale: float | None = None

    @field_validator("bot_time_scale")
    @classmethod
    def _positive(cls, value: float | None) -> float | None:
        if value is not None and not 0 < value <= 100_000:
            raise ValueError("must be a number above 0 (e.g. 60: a real second is a workshop minute)")
        return value

    @field_validator("bot_timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as error:
            raise ValueError(f"unknown time zone {value!r}") from error
        return value

    @property
    def slack_on(self) -> bool:
        return bool(self.slack_bot_token and self.slack_signing_secret)

    @property
    def teams_on(self) -> bool:
        return bool(self.microsoft_app_id and self.microsoft_app_password
                    and self.microsoft_app_tenant_id)
