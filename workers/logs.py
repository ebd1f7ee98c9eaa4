"""Logging set-up with personal data redacted from every record before any handler writes it.

Chat text reaches log lines through messages, arguments and exception tracebacks (a
validation error quotes its input), so a filter on each root handler rewrites the record.
Faust replaces the root handlers when its worker starts; ``LogRedaction``, a dependency of the
app, installs the filter again then (see workers/stream/app.py).
"""

import logging

from mode import Service

from workers.redaction import Redactor

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


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
        return True


def install_redaction(redactor: Redactor | None = None) -> None:
    """Put a redacting filter on every root handler that has none yet."""
    redactor = redactor or Redactor()
    for handler in logging.getLogger().handlers:
        if not any(isinstance(existing, RedactingFilter) for existing in handler.filters):
            handler.addFilter(RedactingFilter(redactor))


def configure_logging(level: int | str = logging.INFO, redactor: Redactor | None = None) -> None:
    """Log to stderr at ``level``, with personal data redacted (every kind by default)."""
    logging.basicConfig(level=level, format=LOG_FORMAT)
    install_redaction(redactor)


class LogRedaction(Service):
    """Re-installs the filter once Faust's worker has replaced the root handlers with its own:
    as a dependency of the app it starts after the worker's logging set-up, before any
    event is processed."""

    def __init__(self, redactor: Redactor) -> None:
        super().__init__()
        self.redactor = redactor

    async def on_start(self) -> None:
        install_redaction(self.redactor)
