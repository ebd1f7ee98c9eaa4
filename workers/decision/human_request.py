"""Requests for a person: explicit ("let me talk to an agent"), transfers to a team or a desk
("put me through to reception"), and indirect ones ("is there anyone I can talk to", "I don't
feel comfortable sharing my details with a machine", "this chat isn't getting me anywhere").

Person words only count in a person sense ("safe for human hair" is not a request, nor is "I
need someone to sign for the parcel" or "transfer money to someone"), and a negated request ("no
need for an agent", "I don't want to talk to anyone") is not one.
"""

import re
from dataclasses import dataclass

from workers.decision.text import normalise, words

# Who a customer may ask for. Titles and roles first; "someone" and friends are handled apart
# because they also mean "anybody at all" ("I need someone to sign for it").
_ROLE = (
    r"(?:human(?: being| agent)?s?|person|people|agents?|representatives?|reps?|operators?"
    r"|manager|supervisor|advis[oe]rs?|associates?|staff(?: members?)?|team members?"
    r"|employees?|colleagues?|consultants?|specialists?|receptionists?|concierge|clerks?"
    r"|bankers?|boss|customer (?:service|support|care)(?: team| department| desk| agent)?"
    r"|support (?:team|staff|agent)|(?:service|help|front) desk|call cent(?:er|re)"
    r"|representante?s?"
    r"|someone in charge|person in charge)"
)
# Teams and desks one asks to be put through to (banks, hotels, shops).
_DESK = (
    r"(?:[a-z]+ )?(?:team|department|dept|desk|office)"
    r"|reception|concierge|spa|gym|restaurant|bar|kitchen|room service|housekeeping|cleaners"
    r"|cleaning staff|maintenance|valet|security|billing|accounts|sales|complaints|claims"
)
_ANYONE = r"(?:someone|somebody|anyone|anybody|any ?one)(?: else)?"
_MODIFIERS = (
    r"(?:(?:a|an|the|your|some|any|another|one|of|other|real|actual|live|normal|proper|human"
    r"|different|qualified|competent|senior|more|less|intelligent|experienced|knowledgeable"
    r"|bank|hotel|store|shop|bit|in|person|from) ){0,6}"
)
_WHO = r"(?:" + _MODIFIERS + r"(?:" + _ROLE + r"|" + _DESK + r")|" + _ANYONE + r")"
# Someone asked to act on the customer's case: a person of the business ("a member of your
# team", "one of your colleagues", "a real person"), never the customer's own ("my colleague").
_ACTOR = (
    r"(?:(?:a|an|one|one of your|your|some|another|the) (?:(?:real|actual|live|human|senior"
    r"|qualified|experienced|competent|specialist|responsible|proper|different) ){0,2}"
    r"(?:coll?e+a?gu?e?s?|member of (?:your |the )?(?:team|staff)|members? of staff"
    r"|(?:team|staff) members?|agents?|persons?|persone|personne|human(?: being)?s?|humain"
    r"|representatives?|representante?s?|managers?|supervisors?|specialists?|advis[oe]rs?"
    r"|case ?(?:worker"
    r"|handler|manager|officer)s?|people|employees?|consultants?)"
    r"(?: (?:from|at|in|on|of|for) (?:your|the|this)(?: [a-z]+){1,2}?)?"
    r"|(?:someone|somebody|anyone|anybody)(?: (?:from|at|in|on|of) (?:your|the)(?: [a-z]+){1,2}?"
    r"| (?:real|senior|qualified|competent|responsible|human|else)"
    r"| (?:in charge|in authority|with (?:the |more |some |real )?(?:authority|power|seniority))"
    r"| (?:who|that) (?:has|have) (?:the |more |some |real )?(?:authority|power))?)"
)
# What they are asked to do, and the case they are asked to do it to.
_ACT = (
    r"look(?:ing)? (?:into|at|over)|look|review|reconsider|re-?examine|re-?assess|assess"
    r"|investigate|deal(?:ing)? with|handle|check|examine|go (?:through|over)|sort out|sort"
    r"|take (?:over|charge|ownership|a (?:proper |closer )?look(?: at)?)"
    r"|resolve|follow up(?: on)?|pick up|takes? (?:over|charge|ownership|care)"
    r"|takes?(?= \S+ (?:\S+ )?in hand\b)"
)
_CASE = (
    r"(?:this|it|that|these|things|everything|my (?:case|complaint|issue|problem|claim"
    r"|account|situation|file|query|request|application|dispute|refund|order|booking|details"
    r"|transactions?|payments?|statement|appeal)|the (?:matter|case|issue|problem|complaint"
    r"|claim|account|situation|file|error|decision|dispute|request|query)|what (?:happened"
    r"|went wrong))\b"
)
_THIS = (
    r"(?:this|it|my (?:case|complaint|issue|query|claim|problem|request)"
    r"|the (?:matter|case|issue|complaint))"
)
_MACHINE = (
    r"(?:(?:a|an|the|this|your|some) )?(?:bot|chat ?bot|robot|machine|computer|automated"
    r" (?:system|service|assistant|thing|voice)|ai|virtual assistant|program)"
)

_PEOPLE = (
    "human humans person people agent agents representative representatives rep reps operator "
    "operators manager supervisor advisor advisors adviser advisers associate associates staff "
    "member members employee employees colleague colleagues consultant consultants specialist "
    "specialists receptionist receptionists concierge clerk clerks banker bankers boss customer "
    "support desk centre center charge someone somebody anyone anybody one team department dept "
    "office reception spa gym restaurant bar kitchen service housekeeping cleaners cleaning "
    "maintenance valet security billing accounts sales complaints claims"
)
_MACHINES = (
    "bot bots chatbot chatbots robot robots machine machines computer computers ai automated "
    "assistant program software"
)

# (cue, gate, pattern). A pattern runs only when the message has a word of its gate's first
# group and, after "&", one of its second group: most messages run none.
_PATTERNS: tuple[tuple[str, str, str], ...] = (
    (
        "asks_if_machine",
        "bot chatbot robot machine computer ai human person real & you this i",
        r"\b(?:are you|is this|am i (?:talking|speaking|chatting) (?:to|with))"
        r" (?:a |an |even a |just a )?"
        r"(?:real person|real human|human being|bot|chatbot|robot|machine|computer|ai)\b"
        r"|\bam i (?:talking|speaking|chatting) (?:to|with) (?:a )?(?:human|person)\b"
        r"|\bare you (?:a )?(?:human|person|real)\b",
    ),
    (
        "explicit_request",
        # "speak to a manager", "talk with someone else", "chat directly with reception"
        "speak speek spek talk chat complain & " + _PEOPLE + " representant representante",
        r"\b(?:speak|speek|spek|talk|chat|complain)(?: directly| again| now| please| right now)?"
        r"(?: to| with)\s+" + _WHO + r"\b",
    ),
    (
        "explicit_request",
        # "put me through to ...", "transfer my call to ...", "can I be connected to ..."
        "connect transfer put pass patch forward switch hand route redirect send escalate "
        "connected transferred passed patched forwarded switched handed redirected escalated & "
        + _PEOPLE,
        r"\b(?:(?:connect|transfer|put|pass|patch|forward|switch|hand|route|redirect|send"
        r"|escalate)(?: me| us| my call| this call| the call| this chat)(?: through| over| back"
        r"| on| directly| in touch| in contact)?"
        r"|(?:pass|hand|escalate)(?: this| it| my case| my complaint| my issue"
        r"| the case| the issue| the matter)?(?: over| on| up)?"
        r"|(?:be|get|been) (?:connected|transferred|put through|passed|patched|forwarded"
        r"|switched|handed over|redirected|escalated))(?: to| with)\s+" + _WHO + r"\b",
    ),
    (
        "explicit_request",
        # "have a word with", "get hold of", "get in touch with", "reach an agent"
        "word chat talk conversation hold touch through reach contact & " + _PEOPLE,
        r"\b(?:have a (?:word|chat|talk|conversation) with|get hold of|get in touch with"
        r"|get (?:me |us )?through to|reach|contact)\s+"
        r"(?:" + _MODIFIERS + _ROLE + r"|" + _ANYONE + r" (?:who|that|from|at|in)\b)",
    ),
    (
        "explicit_request",
        # "I want a human", "give me a real person", "can I have an agent"
        "want need like demand prefer request have get give asking ask & " + _PEOPLE,
        r"\b(?:i(?: really)?(?: want| need| would like|'d like| demand| prefer| request)"
        r"|can i (?:have|get)|could i (?:have|get)|give me|get me|i'?m asking for|i ask for)\s+"
        r"(?:(?:to (?:speak|talk|chat) (?:to|with) )?" + _MODIFIERS + _ROLE + r"\b"
        r"|" + _ANYONE + r" (?:who|that) (?:can|could|knows|will)\b"
        r"|" + _ANYONE + r" to (?:help|talk|speak|assist|look into|deal with|sort)\b)",
    ),
    (
        "asks_person_to_act",
        # Formal and indirect: "I would appreciate it if a member of your team could review my
        # case", "could a colleague look into it personally", "can a real person check my
        # account", "I need someone with authority to deal with this". A person (not the
        # customer's own: "my colleague paid for it") asked to act on the customer's case.
        "look review reconsider investigate deal handle take check examine go sort resolve "
        "follow pick assess takes & "
        + _PEOPLE
        + " persons persone personne humain collegue collegues colegue colleage",
        r"\b(?:" + _ACTOR + r")(?: personally)?"
        r" (?:(?:be )?(?:asked|requested|assigned|allowed|able) )?"
        r"(?:(?:to|could|can|would|will|may|might|should|please|kindly|personally|actually"
        r"|just|then|now|urgently) ){0,3}"
        r"(?:" + _ACT + r")\b(?:(?: (?:personally|properly|again))?(?: " + _CASE + r")"
        r"(?: in hand)?|(?<=take over)|(?<=take charge)|(?<=take ownership)|(?<=takes over))",
    ),
    (
        "escalation_request",
        # "I would like this escalated", "please escalate my complaint", "could this be
        # referred to the relevant team", "can my case be reviewed by a person".
        "escalate escalated escalating refer referred passed forwarded raised reviewed "
        "handled looked dealt",
        r"\b(?:want|like|need|please have|get|have) " + _THIS + r" escalated\b"
        r"|\b(?:please|can you|could you|would you|you to|kindly) escalate " + _THIS + r"\b"
        r"|\b(?:can|could|would|will|should|may) " + _THIS + r" (?:please )?be"
        r" (?:escalated|referred|passed (?:on|up|over)|forwarded|raised)\b"
        r"|\b(?:escalated|referred|passed (?:on |up |over )?|forwarded|reviewed|handled"
        r"|looked at|dealt with) (?:to|by) " + _WHO + r"\b",
    ),
    (
        "explicit_request",
        # "I would appreciate the opportunity to discuss this with somebody in billing"
        "discuss raise review & " + _PEOPLE,
        r"\b(?:discuss|raise|go over|go through|review) (?:this|it|the matter|the issue|my (?:case"
        r"|complaint|issue|account|bill|situation|query|claim))(?: further| in person)? with\s+"
        + _WHO
        + r"\b",
    ),
    (
        "explicit_request",
        "live real actual & agent person human support chat people",
        r"(?<!am a )(?<!is a )(?<!be a )(?<!was a )\b(?:live|real|actual) (?:agent|person|human"
        r"|support|chat|people)\b",
    ),
    (
        "explicit_request",
        # "ask that refund from an agent", "I'd rather sort this out with a person"
        "ask discuss sort handle deal resolve settle do check go & human person agent "
        "representative",
        r"\b(?:ask|discuss|sort|handle|deal|resolve|settle|do|check|go over)\b[^.?!]{0,40}"
        r"\b(?:from|with|by) (?:a|an) (?:real |actual |live |human )?(?:human|person|agent"
        r"|representative)\b",
    ),
    (
        "bare_request",
        "agent human representative operator person manager supervisor customer reception "
        "desk concierge housekeeping service team department",
        r"(?:^|(?<=[.!?] ))\W*(?:(?:a|an|the|my) )?(?:agent|human|representative|operator"
        r"|person|real person|live agent|manager|supervisor|customer (?:service|support|care)"
        r"|reception|front desk|concierge|housekeeping|room service|[a-z]+ (?:team|department"
        r"|desk))(?:,? please| now| asap)?\W*(?:please\W*)?$",
    ),
    (
        "rejects_machine",
        "talk speak chat deal communicate & you program software " + _MACHINES,
        r"\b(?:don'?t|do not|won'?t|will not|not going to|refuse to|rather not|can'?t keep)"
        r" (?:want to |wish to |like to )?(?:talk|speak|chat|deal|communicate) (?:to|with) "
        r"(?:" + _MACHINE + r"|you|a program|software)\b",
    ),
    (
        "rejects_machine",
        _MACHINES + " & tired sick fed comfortable safe happy ok okay uncomfortable trust "
        "rather prefer share give tell",
        r"\b(?:tired|sick|fed up) (?:of|with) (?:talking to |chatting with |dealing with )?"
        + _MACHINE
        + r"s?\b|\b(?:(?:don'?t|do not|not|never) (?:feel )?(?:comfortable|safe|happy|ok|okay)"
        r"|uncomfortable|(?:don'?t|do not|can'?t|cannot) trust|rather not|prefer not to"
        r"|won'?t (?:share|give|tell))[^.?!]{0,60}\b(?:with|to|into|in|on|through|by) "
        + _MACHINE
        + r"s?\b",
    ),
    (
        "anyone_there",
        "there & anyone anybody someone somebody any person human manager supervisor agent "
        "representative",
        r"\bis there (?:(?:anyone|anybody|someone|somebody)\b(?! else)|a person|a human"
        r"|a real person|a manager|a supervisor|an agent|a representative)\b"
        r"|\bis there (?:anyone|anybody|someone|somebody) else (?:i|we) (?:can|could)"
        r" (?:talk|speak)|\b(?:any ?one|anybody|somebody|someone) (?:out )?there\s*\?",
    ),
    (
        "conversation_failing",
        "conversation chat bot chatbot system assistant automated anywhere nowhere circles",
        r"\b(?:this|the|our) (?:conversation|chat|bot|chatbot|system|assistant|automated \w+)"
        r" (?:is(?:n'?t| not)|does(?:n'?t| not)|won'?t|can'?t|cannot|'s not)"
        r" (?:working|work|helping|help|going anywhere|getting (?:me |us )?anywhere"
        r"|understand\w*)"
        r"|\b(?:this|it) (?:is(?:n'?t| not)|'s not) (?:getting|going) (?:me |us )?anywhere"
        r"|\b(?:this|the) (?:conversation|chat|bot|chatbot|system|assistant)(?: is|'s)"
        r" (?:going |getting (?:me |us )?)nowhere\b"
        r"|\b(?:going|talking) (?:round|around) in circles",
    ),
    (
        "conversation_failing",
        "help helping helpful & not no can't cannot able aren't don't",
        r"\byou(?:'re| are) (?:not|of no|no) (?:help|helping|helpful)\b"
        r"|\byou (?:can'?t|cannot|are not able to|aren'?t able to) help me\b"
        r"|\b(?:don'?t|do not) think you can help\b",
    ),
    (
        "callback_request",
        "call ring phone contact callback back",
        r"\b(?:have|get|can|could|would|will|need|want|like|please ask) (?:"
        + _MODIFIERS
        + _ROLE
        + r"|"
        + _ANYONE
        + r")(?: (?:from|at|in|on)(?: [\w'-]+){1,3}?)? (?:to )?(?:call|ring|phone|contact"
        r"|get back to)"
        r" (?:me|us)\b"
        r"|\b(?:request|want|need|like|get|have|arrange|book|schedule) a (?:phone )?call ?back\b"
        r"|\b(?:please |can you |could you |can someone |could someone )call me(?: back| on| at"
        r"| asap| today| tomorrow| now| please|\W*$)",
    ),
)


def _gate(gate: str) -> tuple[frozenset[str], frozenset[str]]:
    first, _, second = gate.partition("&")
    return frozenset(first.split()), frozenset(second.split())


_COMPILED = tuple((cue, *_gate(gate), re.compile(pattern)) for cue, gate, pattern in _PATTERNS)
_TRIGGERS = frozenset().union(*(first for _, first, _, _ in _COMPILED))
# A negation shortly before a request cancels it: "no need for an agent", "I don't want a human".
_NEGATED = re.compile(
    r"\b(?:no need|no|not|without|never|don'?t|do not|didn'?t|did not|won'?t|will not"
    r"|doesn'?t|does not)\b[^.?!,;]{0,25}$"
)
# Cues that are themselves negative ("I don't want to talk to a bot").
_NEGATION_PROOF = frozenset({"rejects_machine", "conversation_failing"})


@dataclass(frozen=True, slots=True)
class HumanRequest:
    """A detected request: the rule name and the words it matched."""

    cue: str
    matched: str


def detect_human_request(
    text: str, folded: str | None = None, tokens: list[str] | None = None
) -> HumanRequest | None:
    """The first non-negated request for a person in ``text``, or None.

    ``folded`` is ``normalise(text)`` and ``tokens`` is ``words(folded)`` when the caller
    already has them.
    """
    folded = normalise(text) if folded is None else folded
    tokens = words(folded) if tokens is None else tokens
    if _TRIGGERS.isdisjoint(tokens):
        return None
    present = frozenset(tokens)
    for cue, first, second, pattern in _COMPILED:
        if present.isdisjoint(first) or (second and present.isdisjoint(second)):
            continue
        for match in pattern.finditer(folded):
            if cue not in _NEGATION_PROOF and _NEGATED.search(folded, 0, match.start()):
                continue
            return HumanRequest(cue=cue, matched=match.group(0).strip())
    return None


def negated_before(folded: str, end: int) -> bool:
    """Whether a negation shortly before ``end`` cancels a request there ("no need for ...");
    the engine asks it for requests the learned model finds."""
    return _NEGATED.search(folded, 0, end) is not None
