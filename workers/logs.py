"""Logging set-up with personal data redacted from every record before any handler writes it.

Chat text reaches log lines through messages, arguments and exception tracebacks (a
validation error quotes its input), so a filter on each root handler rewrites the record.
Faust replaces the root handlers when its worker starts; ``LogRedaction``, a dependency of the
app, installs the filter again then (see workers/stream/app.py), and in the JSON format puts
``JsonFormatter`` on them, so Faust's and aiokafka's lines come out as JSON too.
"""

import json
import logging
from datetime import UTC, datetime
from typing import Any

from mode import Service

from workers.redaction import Redactor
from workers.settings import LogFormat

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# Attributes a record may carry (``extra=``) that a JSON line shows as fields of their own.
CONTEXT_FIELDS = ("session_id", "escalation_id")


class RedactingFilter(logging.Filter):
    """Replaces a record's message, arguments and traceback with redacted text; never drops a
    record. Running it twice on a record (one filter per handler) changes nothing more."""

    def __init__(self, redactor: Redactor) -> None:
        super().__init__()
        self.redactor = redactor
        self._formatter = logging.Formatter()

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a bad format string: keep what logging would show, redacted
            message = f"{record.msg!r} {record.args!r}"
        record.msg = self.redactor.redact(message)
        record.args = ()  # an empty tuple: Faust's formatter wraps None into (None,)
        if record.exc_info and not record.exc_text:
            record.exc_text = self._formatter.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.redactor.redact(record.exc_text)
        if record.stack_info:
            record.stack_info = self.redactor.redact(record.stack_info)
        for field in CONTEXT_FIELDS:  # a session id may be anything, an email address too
            value = getattr(record, field, None)
            if isinstance(value, str):
                setattr(record, field, self.redactor.redact(value))
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object a line: ts (UTC), level, logger, message, the context fields the record
    carries, and the traceback if any. Runs after ``RedactingFilter``, so it formats the
    already redacted message and traceback."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for field in CONTEXT_FIELDS:
            value = getattr(record, field, None)
            if value is not None:
                line[field] = value
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            line["exception"] = record.exc_text
        if record.stack_info:
            line["stack"] = record.stack_info
        return json.dumps(line, ensure_ascii=False, default=str)


def install_redaction(
    redactor: Redactor | None = None, formatter: logging.Formatter | None = None
) -> None:
    """Give every root handler a redacting filter (with ``redactor``) and, if given,
    ``formatter``."""
    redactor = redactor or Redactor()
    for handler in logging.getLogger().handlers:
        filters = [f for f in handler.filters if isinstance(f, RedactingFilter)]
        for existing in filters:
            existing.redactor = redactor
        if not filters:
            handler.addFilter(RedactingFilter(redactor))
        if formatter is not None:
            handler.setFormatter(formatter)


def formatter_for(log_format: LogFormat) -> logging.Formatter | None:
    """The formatter a format puts on every handler; None keeps the handlers' own (text)."""
    return JsonFormatter() if log_format is LogFormat.JSON else None


def configure_logging(level: int | str = logging.INFO, redactor: Redactor | None = None) -> None:
    """Log to stderr at ``level``, with personal data redacted (every kind by default)."""
    logging.basicConfig(level=level, format=LOG_FORMAT)
    install_redaction(redactor)


def worker_logging(log_format: LogFormat, level: str) -> dict[str, Any]:
    """Options for ``faust.Worker``: in the JSON format its own log set-up writes JSON, with
    every kind of personal data redacted, from the first line on (``LogRedaction`` then puts
    the policy's log redactor in); the text format keeps Faust's set-up."""
    if log_format is not LogFormat.JSON:
        return {}
    return {
        "logging_config": {
            "version": 1,
            "disable_existing_loggers": False,
            "formatters": {"json": {"()": JsonFormatter}},
            "filters": {"redact": {"()": RedactingFilter, "redactor": Redactor()}},
            "handlers": {
                "default": {
                    "class": "logging.StreamHandler",
                    "stream": "ext://sys.stdout",
                    "formatter": "json",
                    "filters": ["redact"],
                }
            },
            "root": {"level": level.upper(), "handlers": ["default"]},
        }
    }


class LogRedaction(Service):
    """Re-installs the filter (and the JSON formatter) once Faust's worker has replaced the
    root handlers with its own: as a dependency of the app it starts after the worker's
    logging set-up, before any event is processed."""

    def __init__(self, redactor: Redactor, log_format: LogFormat = LogFormat.TEXT) -> None:
        super().__init__()
        self.redactor = redactor
        self.log_format = log_format

    async def on_start(self) -> None:
        if self.log_format is LogFormat.JSON:
            logging.captureWarnings(True)  # warnings become log lines instead of raw stderr
        install_redaction(self.redactor, formatter_for(self.log_format))
