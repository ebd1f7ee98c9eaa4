"""The root of escalator's error tree; each area adds its own subclasses beside its code."""


class EscalatorError(Exception):
    """Root of every error escalator raises on purpose."""


class ConfigurationError(EscalatorError):
    """Raised when settings or a policy are invalid."""


class ServiceUnavailableError(EscalatorError):
    """Raised when a service escalator needs (broker, Redis) does not answer."""
