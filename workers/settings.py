"""Every setting escalator reads, from the environment, in one place.

Names are ``ESCALATOR_<FIELD>`` (``REDIS_URL`` is also accepted for the Redis URL). Secrets
are ``SecretStr`` so they never reach a log or a ``repr``.
"""

from enum import StrEnum
from pathlib import Path
from urllib.parse import urlsplit

from pydantic import AliasChoices, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from workers.errors import ConfigurationError


class BrokerProfile(StrEnum):
    """Which broker the worker talks to; the embedded one needs a workaround."""

    EMBEDDED = "embedded"
    """Tansu, for development, the demo and CI: one record per produced batch."""
    KAFKA = "kafka"
    """Apache Kafka (production)."""


_EMBEDDED_GROUP_TIMEOUTS = (5.0, 10.0, 1.0)
_KAFKA_GROUP_TIMEOUTS = (60.0, 60.0, 3.0)


class Settings(BaseSettings):
    """Worker configuration. Frozen: build a new one instead of changing it."""

    model_config = SettingsConfigDict(env_prefix="ESCALATOR_", frozen=True, extra="ignore")

    app_id: str = Field(default="escalator", description="Faust app id and consumer group.")
    broker_url: str = Field(default="kafka://127.0.0.1:9092", description="kafka://host:port[;...]")
    broker_profile: BrokerProfile = BrokerProfile.EMBEDDED
    redis_url: SecretStr = Field(
        default=SecretStr("redis://127.0.0.1:6379/0"),
        validation_alias=AliasChoices("ESCALATOR_REDIS_URL", "REDIS_URL"),
        description="redis:// or rediss://, may carry an ACL user and password.",
    )
    redis_prefix: str = Field(default="escalator", pattern=r"^[A-Za-z0-9_.:-]{1,64}$")

    chat_events_topic: str = "chat-events"
    escalations_topic: str = "escalations"
    dead_letter_topic: str = "chat-events-dead-letters"
    handoff_events_topic: str = Field(default="handoff-events", description="Desks report here.")
    bot_control_topic: str = Field(default="bot-control", description="pause/resume/notify.")
    ticks_topic: str = Field(default="escalator-ticks", description="Internal clock ticks.")
    tick_interval_seconds: float = Field(default=5.0, gt=0, description="SLA and expiry checks.")
    partitions: int = Field(default=8, ge=1, le=1024)
    replication_factor: int = Field(default=1, ge=1, le=16)

    store: str = Field(
        default="memory://", description="Faust table store: memory:// or rocksdb://"
    )
    data_dir: Path = Path(".escalator/data")
    web_host: str = "127.0.0.1"
    web_port: int = Field(default=6066, ge=1, le=65535)
    log_level: str = "info"

    policy_file: Path | None = Field(
        default=None, description="Decision policy TOML; None: default."
    )
    max_record_bytes: int = Field(default=64 * 1024, ge=1024, le=16 * 1024 * 1024)
    redis_retry_max_seconds: float = Field(default=5.0, gt=0, description="Backoff ceiling.")
    rebalance_timeout_seconds: float | None = Field(
        default=None, gt=0, description="Profile default."
    )
    session_timeout_seconds: float | None = Field(
        default=None, gt=0, description="Profile default."
    )
    heartbeat_interval_seconds: float | None = Field(
        default=None, gt=0, description="Profile default."
    )

    @field_validator("broker_url")
    @classmethod
    def _kafka_scheme(cls, value: str) -> str:
        if not value.startswith("kafka://"):
            raise ValueError("must start with kafka://, e.g. kafka://127.0.0.1:9092")
        return value

    @property
    def group_timeouts(self) -> tuple[float, float, float]:
        """(rebalance, session, heartbeat) seconds: explicit settings, else the profile's.

        Tansu holds a group join for the whole rebalance timeout, so the embedded profile keeps
        it short; Apache Kafka gets Faust's usual values.
        """
        defaults = (
            _EMBEDDED_GROUP_TIMEOUTS
            if self.broker_profile is BrokerProfile.EMBEDDED
            else _KAFKA_GROUP_TIMEOUTS
        )
        return (
            self.rebalance_timeout_seconds or defaults[0],
            self.session_timeout_seconds or defaults[1],
            self.heartbeat_interval_seconds or defaults[2],
        )

    @property
    def redis_url_for_display(self) -> str:
        """The Redis URL without any password, safe for logs and messages."""
        parts = urlsplit(self.redis_url.get_secret_value())
        host = parts.hostname or "127.0.0.1"
        port = f":{parts.port}" if parts.port else ""
        user = f"{parts.username}:***@" if parts.username or parts.password else ""
        return f"{parts.scheme}://{user}{host}{port}{parts.path}"

    @property
    def bootstrap_servers(self) -> list[str]:
        """host:port pairs for plain Kafka clients."""
        return [part.removeprefix("kafka://") for part in self.broker_url.split(";")]


def load_settings(**overrides: object) -> Settings:
    """Read settings from the environment; raises ConfigurationError naming the bad field."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        problems = "; ".join(
            f"ESCALATOR_{'.'.join(str(p) for p in err['loc']).upper()}: {err['msg']}"
            for err in exc.errors()
        )
        raise ConfigurationError(f"invalid settings: {problems}") from None
