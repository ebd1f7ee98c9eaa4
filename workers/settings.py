"""Every setting escalator reads, from the environment, in one place.

Names are ``ESCALATOR_<FIELD>`` (``REDIS_URL`` is also accepted for the Redis URL). Secrets
are ``SecretStr`` so they never reach a log or a ``repr``.
"""

import socket
import ssl
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from pydantic import (
    AliasChoices,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict

from workers.errors import ConfigurationError

if TYPE_CHECKING:
    import faust


class BrokerProfile(StrEnum):
    """Which broker the worker talks to; the embedded one needs a workaround."""

    EMBEDDED = "embedded"
    """Tansu, for development, the demo and CI: its own transport (workers/stream/transport.py)."""
    KAFKA = "kafka"
    """Apache Kafka (production)."""


class KafkaSecurityProtocol(StrEnum):
    """How clients talk to Kafka: TLS, SASL, both or neither."""

    PLAINTEXT = "PLAINTEXT"
    SSL = "SSL"
    SASL_PLAINTEXT = "SASL_PLAINTEXT"
    SASL_SSL = "SASL_SSL"


class SaslMechanism(StrEnum):
    """SASL mechanisms both Faust and aiokafka support with a user name and password."""

    PLAIN = "PLAIN"
    SCRAM_SHA_256 = "SCRAM-SHA-256"
    SCRAM_SHA_512 = "SCRAM-SHA-512"


class LogFormat(StrEnum):
    """How the worker writes its log lines."""

    TEXT = "text"
    JSON = "json"


def display_redis_url(url: str) -> str:
    """A Redis URL without its password or query options, safe for logs and messages."""
    try:
        parts = urlsplit(url)
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "(an unreadable URL)"
    host = parts.hostname or "127.0.0.1"
    user = f"{parts.username}:***@" if parts.username or parts.password else ""
    return f"{parts.scheme}://{user}{host}{port}{parts.path}"


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
    redis_username: str | None = Field(default=None, description="Redis ACL user.")
    redis_password: SecretStr | None = Field(default=None, description="Redis ACL password.")

    kafka_security_protocol: KafkaSecurityProtocol = KafkaSecurityProtocol.PLAINTEXT
    kafka_sasl_mechanism: SaslMechanism = SaslMechanism.PLAIN
    kafka_sasl_username: str | None = None
    kafka_sasl_password: SecretStr | None = None
    kafka_ssl_cafile: Path | None = Field(default=None, description="CA bundle for the broker.")
    kafka_ssl_certfile: Path | None = Field(default=None, description="Client certificate (mTLS).")
    kafka_ssl_keyfile: Path | None = Field(default=None, description="Client key (mTLS).")

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
    web_advertised_host: str | None = Field(
        default=None,
        description="How other workers reach this one's web server (GET /sessions/{id} is "
        "forwarded to the key's owner); default: web_host, or the host name when web_host "
        "binds every interface.",
    )
    log_level: str = "info"
    log_format: LogFormat = Field(
        default=LogFormat.TEXT, description="text for people, json (one object a line) for ops."
    )

    policy_file: Path | None = Field(
        default=None, description="Decision policy TOML; None: default."
    )
    max_record_bytes: int = Field(default=64 * 1024, ge=1024, le=16 * 1024 * 1024)
    max_word_chars: int = Field(
        default=1_000,
        ge=100,
        le=10_000,
        description="Longest run of non-space characters in free text; longer: dead letter.",
    )
    batch_max_records: int = Field(
        default=500,
        ge=1,
        le=10_000,
        description="Records one fetch hands the agent at most (over all its partitions); "
        "the agent takes them a partition at a time.",
    )
    state_flush_seconds: float = Field(
        default=1.0,
        ge=0,
        le=60.0,
        description="How often changed session state is written (0: after every batch); "
        "events of a session in between share one changelog record. After a crash, the "
        "records since the last write are read back from the broker and applied again.",
    )
    max_unflushed_sessions: int = Field(
        default=5_000, ge=1, le=1_000_000, description="Changed sessions that force a write."
    )
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
    group_instance_id: str | None = Field(
        default=None,
        min_length=1,
        max_length=249,
        description="Static group membership (Apache Kafka): a name that stays with this "
        "worker across restarts (e.g. a StatefulSet pod's name), so a worker back within the "
        "session timeout takes its partitions again without a rebalance. Unique per worker.",
    )

    @field_validator("broker_url")
    @classmethod
    def _kafka_scheme(cls, value: str) -> str:
        if not value.startswith("kafka://"):
            raise ValueError("must start with kafka://, e.g. kafka://127.0.0.1:9092")
        return value

    @field_validator("redis_username", "redis_password", "group_instance_id", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        """An empty ESCALATOR_REDIS_USERNAME / _PASSWORD means none (no AUTH is sent); an
        empty ESCALATOR_GROUP_INSTANCE_ID, dynamic membership."""
        return None if value == "" else value

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
    def web_canonical_url(self) -> str:
        """The URL this worker announces to the others in its consumer group."""
        host = self.web_advertised_host
        if host is None:
            host = socket.gethostname() if self.web_host in ("0.0.0.0", "::") else self.web_host
        return f"http://{host}:{self.web_port}"

    @property
    def redis_url_for_display(self) -> str:
        """The Redis URL without any password, safe for logs and messages."""
        return display_redis_url(self.redis_url.get_secret_value())

    @model_validator(mode="after")
    def _kafka_security_complete(self) -> "Settings":
        if self._kafka_sasl and (not self.kafka_sasl_username or self.kafka_sasl_password is None):
            raise ValueError(
                f"kafka_security_protocol {self.kafka_security_protocol} needs "
                "ESCALATOR_KAFKA_SASL_USERNAME and ESCALATOR_KAFKA_SASL_PASSWORD"
            )
        if (self.kafka_ssl_certfile is None) != (self.kafka_ssl_keyfile is None):
            raise ValueError("kafka_ssl_certfile and kafka_ssl_keyfile go together")
        return self

    @property
    def _kafka_sasl(self) -> bool:
        return self.kafka_security_protocol in (
            KafkaSecurityProtocol.SASL_PLAINTEXT,
            KafkaSecurityProtocol.SASL_SSL,
        )

    @property
    def _kafka_tls(self) -> bool:
        return self.kafka_security_protocol in (
            KafkaSecurityProtocol.SSL,
            KafkaSecurityProtocol.SASL_SSL,
        )

    def kafka_ssl_context(self) -> ssl.SSLContext | None:
        """A verifying TLS context (the CA file, else the system's; the client certificate if
        set) when the protocol uses TLS, else None."""
        if not self._kafka_tls:
            return None
        context = ssl.create_default_context(
            cafile=str(self.kafka_ssl_cafile) if self.kafka_ssl_cafile else None
        )
        if self.kafka_ssl_certfile and self.kafka_ssl_keyfile:
            context.load_cert_chain(str(self.kafka_ssl_certfile), str(self.kafka_ssl_keyfile))
        return context

    def faust_broker_credentials(self) -> "faust.SASLCredentials | faust.SSLCredentials | None":
        """What ``faust.App(broker_credentials=...)`` needs; None for PLAINTEXT."""
        import faust  # only the worker needs Faust; the other commands start faster without

        context = self.kafka_ssl_context()
        if self._kafka_sasl and self.kafka_sasl_password is not None:
            return faust.SASLCredentials(
                username=self.kafka_sasl_username,
                password=self.kafka_sasl_password.get_secret_value(),
                mechanism=self.kafka_sasl_mechanism.value,
                ssl_context=context,
            )
        return None if context is None else faust.SSLCredentials(context)

    def kafka_client_kwargs(self) -> dict[str, Any]:
        """Security keyword arguments for plain aiokafka clients (producer, admin); empty for
        PLAINTEXT, so their behaviour does not change by default."""
        if self.kafka_security_protocol is KafkaSecurityProtocol.PLAINTEXT:
            return {}
        kwargs: dict[str, Any] = {"security_protocol": self.kafka_security_protocol.value}
        context = self.kafka_ssl_context()
        if context is not None:
            kwargs["ssl_context"] = context
        if self._kafka_sasl and self.kafka_sasl_password is not None:
            kwargs["sasl_mechanism"] = self.kafka_sasl_mechanism.value
            kwargs["sasl_plain_username"] = self.kafka_sasl_username
            kwargs["sasl_plain_password"] = self.kafka_sasl_password.get_secret_value()
        return kwargs

    def redis_environment(self) -> dict[str, str]:
        """The ``ESCALATOR_REDIS_*`` variables a child process needs to reach this Redis as
        this user; empty credentials when none are set, so none are inherited either."""
        password = self.redis_password.get_secret_value() if self.redis_password else ""
        return {
            "ESCALATOR_REDIS_URL": self.redis_url.get_secret_value(),
            "ESCALATOR_REDIS_USERNAME": self.redis_username or "",
            "ESCALATOR_REDIS_PASSWORD": password,
        }

    def redis_client_kwargs(self) -> dict[str, Any]:
        """ACL credentials given in the settings (empty when unset). Clients are built by
        workers.redis_clients, which puts these over the URL's own."""
        kwargs: dict[str, Any] = {}
        if self.redis_username:
            kwargs["username"] = self.redis_username
        if self.redis_password is not None:
            kwargs["password"] = self.redis_password.get_secret_value()
        return kwargs

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
