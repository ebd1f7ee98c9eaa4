"""The bot lacking the authority or ability to act: refusals and redirections."""

import re

REFUSAL = re.compile(
    r"\b(?:i(?:'m| am) (?:not able|unable|not allowed|not authori[sz]ed|not permitted) to"
    r"|i (?:can'?t|cannot|can not) (?:do|issue|process|change|cancel|refund|reverse|access|see"
    r"|modify|update|approve|override|help with|make|arrange|book|rebook|waive|remove|look into)"
    r"|i don'?t have (?:access|the ability|permission|the authority|the option)"
    r"|(?:that|this) (?:is not|isn'?t) something i can"
    r"|(?:outside|beyond) (?:of )?(?:what i can|my (?:abilities|capabilities|scope))"
    r"|i(?:'m| am) (?:just|only) (?:a|an) (?:bot|virtual assistant|automated assistant)"
    r"|(?:you(?:'ll| will) need to|you have to|please) (?:call|contact|phone|visit|ring)"
    r" (?:us|our|the|a)\b)"
)


def refusal_in(folded: str) -> str | None:
    """The refusal wording in a bot message (normalised text), or None."""
    match = REFUSAL.search(folded)
    return match.group(0) if match else None
