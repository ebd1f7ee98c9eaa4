"""Text helpers shared by the detectors."""

import re

_WORD = re.compile(r"[a-z0-9']+")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
EXCERPT_CHARS = 160


def normalise(text: str) -> str:
    """Lower case, curly apostrophes straightened, runs of white space folded."""
    return " ".join(text.replace("\u2019", "'").replace("\u2018", "'").lower().split())


def words(text: str) -> list[str]:
    """Lower-case word tokens of already normalised text."""
    return _WORD.findall(text)


def excerpt(text: str, limit: int = EXCERPT_CHARS) -> str:
    """A short, single-line, control-free quote for evidence and logs."""
    if text.isprintable() and "  " not in text and text == text.strip():
        flat = text  # already flat: printable text has no control or other white space
    else:
        flat = " ".join(_CONTROL.sub(" ", text).split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "\u2026"
