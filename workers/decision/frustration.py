"""Per-message frustration: a score 0..1 from explainable lexical cues.

These cues add weight:

- emotion: negative and strongly negative words, swearing, negative emoji or emoticons,
  shouting, "?!!";
- service failure: what complaints are made of even when worded calmly: delays, cancellations,
  waiting, being on hold, lost or damaged things, refunds, "still", "again", "no one", "never",
  how long something has taken, "why" questions, broken promises, "customer service";
- conversation trouble: the customer correcting the bot ("no, I said the 14th", "that's not
  right"), doubting it ("are you sure?"), saying it again, asking whether it understood, going
  in circles, impatience, giving up;
- negated praise ("not helpful", "not happy");
- weak signs that count only beside others: a contrast ("but", "however"), blame in hindsight
  ("you should have told me"), effort against an obstacle ("I'm trying to"), asking for
  something else ("anything else?", "instead"), a restating "..., not the 4th".

Courtesy and praise take weight away, unless the message reads as sarcasm ("thanks for the
three-hour delay", praise opening a complaint: "great, the same answer again", praise taken back:
"so helpful... not"); praise before a "but" takes away less ("thanks, but it's still wrong").
Failure words count half in a hypothetical ("what is the fee if I cancel?"). The total is
squashed with ``1 - exp(-weight)`` so that several weak cues approach, but never exceed, 1. A
total weight of about 0.7 is a score of 0.5, the shipped "negative turn" threshold: one strong
cue or two weaker ones. The cues found are returned so a handoff can say why.

Speed: one pass over the words looks each up in a single table that gives its kind and the
phrase patterns it may start; only those patterns run, so a typical message costs a handful of
microseconds.
"""

import math
import re
from typing import NamedTuple

from workers.decision.lexicons import frustration_words as lex
from workers.decision.text import normalise, words

# Word weights.
STRONG_WEIGHT = 0.9
NEGATIVE_WEIGHT = 0.5
PROFANITY_WEIGHT = 0.9
FAILURE_WEIGHT = 0.35
MILD_FAILURE_WEIGHT = 0.15
FAILURE_CAP = 1.0
PERSISTENCE_WEIGHT = 0.25
NEGATOR_WEIGHT = 0.12
NEGATOR_CAP = 0.3
INTENSIFIED_BONUS = 0.25
NEGATED_NEGATIVE_FACTOR = 0.25
NEGATED_POSITIVE_WEIGHT = 0.5
NEGATION_WINDOW = 3
HYPOTHETICAL_FACTOR = 0.5
# Whole-message cues.
CAPS_WEIGHT = 0.5
EMPHASIS_WEIGHT = 0.25
PUNCTUATION_WEIGHT = 0.35
NEGATIVE_EMOJI_WEIGHT = 0.5
# Relief from courtesy and praise.
POSITIVE_RELIEF = 0.45
EXTRA_POSITIVE_RELIEF = 0.2
POSITIVE_RELIEF_CAP = 0.9
# Praise opening a message that also holds this much complaint reads as sarcasm ("great, the same
# answer again"), which adds weight instead of taking it away.
SARCASM_EVIDENCE = 0.45
SARCASM_CONTEXT_WEIGHT = 0.5
# Asking for something else: weak alone, telling beside a "no" or an apology.
ALTERNATIVE_WEIGHT = 0.2
# With this much negative evidence, praise (but not a plain "thanks") is more likely sarcastic
# or polite than sincere, so it takes away only half as much.
COMPLAINT_EVIDENCE = 1.0

# What may follow a "no" that only declines an offer or answers a question: "no thanks", "no, not
# right now", "no, that's all", "no, I don't need a taxi", "no, price doesn't matter".
_POLITE_NO = (
    r"(?:thanks|thank|thx|problems?|worries|worry|complaints?|issues?|concerns?|rush|hurry|need"
    r"|preference|particular|nothing|maybe|later|bye|goodbye|good|ok|okay|fine|sorry|more|other"
    r"|i think|i'?m not sure)\b",
    r"i (?:don'?t|do not)(?:\W*$| (?:need|think|have|care|mind|require|want to|wish to)\b)",
    r"i'?m (?:good|fine|ok|okay|all set|set|all good|not (?:sure|picky|fussy|bothered|interested"
    r"|in need))\b",
    r"i am (?:good|fine|ok|okay|all set|not (?:sure|picky|fussy|bothered|interested|in need))\b",
    r"(?:it|that)'?s (?:all|it|fine|ok|okay|good|great|everything|perfect|correct|right|alright"
    r"|enough)\b",
    r"(?:that|it|this) (?:is|was|will be|would be|should be|'?ll be|'?d be) (?:all|it|everything"
    r"|fine|ok|okay|great|good|perfect|enough)\b",
    r"that'?ll (?:be|do)\b",
    r"(?:(?:that|it)(?:'?s| is| was| would be| will be|'?ll be) |that won'?t be )?not (?:right )?"
    r"(?:now|yet|today|at|for|currently|really|necessary|needed|required|this time)\b",
    r"that won'?t be necessary\b",
    r"(?:don'?t|do not) (?:book|add|reserve|buy|purchase|transfer|schedule|make|do|bother)\b",
    r"(?:\w+ ){0,3}(?:doesn'?t|does not|don'?t|do not) matter\b",
    r"(?:\w+ ){0,2}(?:preference|necessary|needed|required|particular)\b",
)
# What follows a "not" that declines or hedges rather than corrects: "not yet", "not sure".
_NOT_DECLINING = (
    r"(?!sure|yet|now|really|quite|exactly|at (?:all|this|that|the)|today|right now|needed"
    r"|necessary|interested|bad|a problem|too|so|that much|much|many|very|necessarily|anymore"
    r"|for now|this time|tonight|tomorrow|ready|in a hurry|picky|fussy|important)"
)
_NEGATING = "not no never nothing don't dont doesn't doesnt isn't isnt won't wont didn't didnt "
_NEGATING += "can't cant cannot wouldn't wouldnt"

# Phrase cues: (cue, weight, gate, pattern). A pattern runs only when its gate holds:
#   "a b c"      the message has one of these words;
#   "a b & c d"  it has one word of each group;
#   "~x ~y"      its text contains one of these strings anywhere (as in "2hrs");
#   "*"          always.
# A match must start at the start of a word; patterns begin with a word rather than with \b,
# which lets the regex engine skip ahead to a likely first letter. A cue counts once, with the
# weight of its first entry that matches, so specific entries come before general ones.
_PHRASES: tuple[tuple[str, float, str, str], ...] = (
    # Giving up on the conversation or the company.
    ("giving_up", 1.0, "done", r"(?:i'?m|i am) (?:so )?done\b(?! with (?:the|my|that|this) \w+)"),
    ("giving_up", 1.0, "give gave giving & up", r"(?:i give|i gave|i'?m giving|giving) up\b"),
    ("giving_up", 1.0, "forget & it", r"forget (?:about )?it\b"),
    ("giving_up", 1.0, "mind nevermind", r"never ?mind\b"),
    ("giving_up", 1.0, "never & again", r"never again\b"),
    ("giving_up", 1.0, "quit", r"i quit\b"),
    ("giving_up", 1.0, "elsewhere", r"(?:i'?ll|i will|going to) (?:go|take my \w+) elsewhere\b"),
    # Threatening to leave: "you just lost a customer", "I'm switching to another bank".
    (
        "churn",
        0.8,
        "lose lost losing business customer & my our a business customer",
        r"(?:lose|lost|losing) (?:my|our|a) (?:business|customer)\b",
    ),
    (
        "churn",
        0.8,
        "switch switching switched move moving moved & another different competitor competitors",
        r"(?:switch|switching|switched|move|moving|moved) (?:over )?to (?:another|a different|a"
        r" competitor|your competitors?)\b",
    ),
    ("giving_up", 1.0, "last & time", r"last time i (?:use|fly|book|order|buy|shop)\b"),
    (
        "giving_up",
        1.0,
        "won't wont will never & using flying booking ordering buying shopping",
        r"(?:won'?t|will not|never) (?:be )?(?:using|flying|booking|ordering|buying|shopping)"
        r" (?:with )?(?:you|your|this|here|again)\b",
    ),
    # The customer has said it before.
    (
        "already_said",
        0.8,
        "told said explained sent answered mentioned provided gave stated wrote asked",
        r"i (?:already|just) (?:told|said|gave|explained|sent|answered|mentioned|provided)\b"
        r"|as i (?:said|told you|mentioned|explained|stated|wrote)\b|like i said\b"
        r"|i(?:'ve| have) (?:already )?(?:told|said|explained|asked) (?:you|this|that|it|twice"
        r"|before)\b",
    ),
    # The bot asking for what it was already given: "you already asked me that".
    (
        "asked_again",
        0.55,
        "asked & already just before",
        r"you(?:'ve| have)? (?:already|just) asked\b|you asked (?:me )?(?:that|this) (?:already"
        r"|before)\b",
    ),
    ("how_many_times", 0.9, "times", r"how many (?:more )?times\b"),
    ("repeated_again", 0.5, "again", r"(?:yet|once) again\b|again and again\b"),
    (
        "repeated_again",
        0.5,
        "time & second third fourth fifth sixth every 2nd 3rd 4th 5th 6th 7th 8th 9th 10th",
        r"(?:second|third|fourth|fifth|sixth|\d+(?:st|nd|rd|th)) time\b|every (?:single )?time\b",
    ),
    (
        "repeated_again",
        0.5,
        "times",
        r"(?:several|multiple|many|countless|numerous|three|four|five|six|ten|\d+) times\b",
    ),
    ("repeated_again", 0.5, "twice", r"twice\b"),
    # Going round in circles.
    (
        "going_in_circles",
        0.8,
        "keep keeps kept",
        r"(?:keep|keeps|kept) (?:on )?(?:asking|saying|telling|sending|giving|repeating|showing"
        r"|looping|going back|getting)\b",
    ),
    (
        "going_in_circles",
        0.8,
        "same & again over every each",
        r"same (?:question|questions|answer|answers|thing|message|link|reply|response|options?)"
        r" (?:again|over|every time|each time)\b",
    ),
    ("going_in_circles", 0.8, "over", r"over and over\b"),
    (
        "going_in_circles",
        0.8,
        "circles circle nowhere loop",
        r"(?:going|go|went|talking|running|run) (?:round|around) in circles?\b"
        r"|(?:going|getting) nowhere\b|(?:stuck in|in) (?:a|this|an endless) loop\b",
    ),
    (
        "fed_up",
        0.5,
        "fed sick tired & up of with",
        r"(?:fed up|sick of|tired of|sick and tired|sick to death)\b",
    ),
    (
        "waste_of_time",
        0.8,
        "waste wasting wasted",
        r"wast(?:e|ing|ed) (?:of )?(?:my |our |your )?(?:time|day|money)\b",
    ),
    # Correcting the bot.
    (
        "correction",
        0.8,
        "right correct what",
        r"not (?:right\b(?! now| away| here| there| at)|correct\b|what i (?:asked|said|wanted"
        r"|meant|need|want|ordered|booked)\b)|isn'?t (?:right|correct)\b(?! now)",
    ),
    (
        "correction",
        0.8,
        "said meant asked specified",
        r"(?:i|we) (?:said|meant|asked for|specified)\b",
    ),
    (
        "correction",
        0.8,
        "didn't didnt did & say ask want mean order book request",
        r"(?:i|we) did(?:n'?t| not) (?:say|ask|want|mean|order|book|request)\b",
    ),
    (
        "correction",
        0.8,
        "wrong incorrect",
        r"(?:that'?s|that is|it'?s|it is|you'?re|you are|still|all|is|are) (?:all )?wrong\b"
        r"|you(?:'ve| have)? (?:got|get|have) (?:it|that|me|this) wrong\b"
        r"|^\W*(?:wrong|incorrect)\b",
    ),
    # Asking whether the bot understood.
    (
        "not_understood",
        0.8,
        "understand understanding hear read reading listen listening & you",
        r"(?:did|do|can|could) you (?:not |even )?(?:understand|hear|read|listen)\b"
        r"|(?:you'?re|you are|you aren'?t) (?:not )?(?:even )?(?:listening|understanding|reading)"
        r"\b|you (?:don'?t|do not|didn'?t|did not|can'?t|cannot) (?:seem to )?"
        r"(?:understand|listen|read|get it)\b"
        r"|(?:are|were) you (?:even |not |really )?(?:listening|reading|paying attention)\b",
    ),
    (
        "not_understood",
        0.8,
        "even & understand listen read know care",
        r"(?:do|did|does) (?:you|it|this \w+) even (?:understand|listen|read|know|care)\b",
    ),
    (
        "not_understood",
        0.8,
        "sense talking what",
        r"makes? no sense\b|(?:doesn'?t|does not|don'?t) make (?:any )?sense\b"
        r"|what are you talking about\b|that'?s not what i\b",
    ),
    # Doubting the answer.
    (
        "doubt",
        0.7,
        "sure certain positive serious kidding & you",
        r"are you (?:quite |really |absolutely |even )?(?:sure|certain|positive|serious|kidding)\b",
    ),
    ("doubt", 0.7, "again & check try look search", r"(?:check|try|look|search) again\b"),
    ("doubt", 0.7, "double doublecheck", r"double[- ]?check"),
    ("doubt", 0.7, "sworn", r"could have sworn\b"),
    ("doubt", 0.7, "believe & don't dont", r"i don'?t believe (?:you|that|it|this)\b"),
    ("doubt", 0.7, "really", r"really\s*\?"),
    # Things that do not work, still.
    (
        "not_working",
        0.6,
        "work works working help helps helping helpful helped fixed solved resolved answered "
        "arrived received showed & " + _NEGATING + " isn't isnt",
        r"(?:doesn'?t|does not|isn'?t|is not|not|won'?t|will not|didn'?t|did not|can'?t|cannot"
        r"|never|nothing) (?:work|works|working|help|helps|helping|helpful|helped|fixed|solved"
        r"|resolved|answered|arrived|received|showed up)\b",
    ),
    ("not_working", 0.6, "help & no", r"no help\b"),
    (
        "still_broken",
        0.5,
        "still",
        r"still (?:no|not|nothing|waiting|haven'?t|hasn'?t|can'?t|cannot|don'?t|doesn'?t|didn'?t"
        r"|isn'?t|stuck|sitting|on hold|delayed|missing|broken|unresolved|no sign)\b",
    ),
    ("still_broken", 0.5, "again even", r"not again\b|(?:not|never|no) even\b"),
    (
        "no_one",
        0.5,
        "noone nobody",
        r"(?:noone|nobody)\b",
    ),
    (
        "no_one",
        0.5,
        "no not",
        r"no one\b|no body\b|not a single (?:person|one|soul)\b"
        r"|no (?:response|answer|reply|replies|help|info|information|update|updates"
        r"|communication|call ?back|explanation|apology|compensation|notice|notification)\b",
    ),
    (
        "never_happened",
        0.6,
        "never",
        r"never (?:received|got|get|arrived|came|showed|shown|heard|called|responded|answered"
        r"|replied|fixed|refunded|delivered|sent|returned)\b",
    ),
    (
        "never_happened",
        0.6,
        "hasn't haven't hadn't hasnt havent hadnt",
        r"(?:has|have|had)n'?t (?:received|got|gotten|arrived|heard|been (?:refunded|fixed|sent))",
    ),
    (
        "broken_promise",
        0.5,
        "supposed promised told said guaranteed assured",
        r"(?:supposed to|promised|was told|were told|been told|told (?:me|us) (?:it|that|they"
        r"|i|we|you)|said (?:it|they|you|i|we) would|guaranteed|assured)\b",
    ),
    # How long it has taken.
    (
        "waiting_time",
        0.45,
        "hour hours hr hrs minute minutes min mins",
        r"(?:an?|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|fifteen|twenty"
        r"|thirty|forty|fifty|sixty|several|many|few|couple(?: of)?|multiple)"
        r" (?:hours?|hrs?|minutes?|mins?)\b",
    ),
    (
        "waiting_time",
        0.45,
        "~hour ~hr ~min",
        r"\d+(?:\.\d+)?\s*\+?\s*(?:plus )?(?:hours?|hrs?|minutes?|mins?)\b",
    ),
    (
        "waiting_time",
        0.45,
        "days weeks months & for over almost nearly more about ago now later still",
        r"(?:for|over|almost|nearly|more than|about) (?:\w+ )?(?:days|weeks|months)\b"
        r"|(?:days|weeks|months) (?:ago|now|later|and still)\b",
    ),
    (
        "waiting_time",
        0.45,
        "all & day night morning afternoon evening week",
        r"all (?:day|night|morning|afternoon|evening|week)\b",
    ),
    (
        "waiting_time",
        0.45,
        "long longer forever",
        r"(?:so|too|this) long\b|how much longer\b|taking forever\b"
        # "How long is the trip?" asks for a fact; "how long do I have to wait?" complains.
        r"|how long(?! (?:is|was|will|would|does|did) (?:the|a|an|my|that|your)\b)\b",
    ),
    (
        "waiting_time",
        0.45,
        "waiting trying calling sitting stuck holding & been keep kept still",
        r"(?:been|keep|kept|still) (?:waiting|trying|calling|sitting|stuck|holding)\b",
    ),
    (
        "on_hold",
        0.6,
        "hold wait waiting hung hang hangs hanging disconnected through dropped",
        r"on hold\b|(?:hold|wait|waiting) times?\b|(?:hung|hangs|hanging|hang) up\b|disconnected\b"
        r"|(?:can'?t|cannot) get through\b|dropped (?:the |my )?call\b",
    ),
    (
        "customer_service",
        0.3,
        "customer call your",
        r"customer (?:service|care|support|relations)\b|call (?:center|centre)\b"
        r"|your (?:staff|agents?|employees|reps?|representatives|crew|people|team|website"
        r"|app|system)\b",
    ),
    # A "why" that is a reproach rather than a question: "why can't you just...", "why is this
    # so hard".
    (
        "rhetorical_question",
        0.45,
        "why & just so",
        r"why (?:can'?t|won'?t|don'?t|doesn'?t|didn'?t|isn'?t|is|are|does|do) (?:\w+ ){0,3}just\b"
        r"|why (?:is|was|are|does) (?:this|it|that|everything) (?:\w+ )?so (?:hard|difficult"
        r"|complicated|slow|bad)\b",
    ),
    (
        "why_question",
        0.35,
        "why",
        r"why (?:is|are|was|were|do|does|did|would|can'?t|won'?t|isn'?t|hasn'?t|haven'?t"
        r"|wasn'?t|didn'?t|doesn'?t|don'?t|not|on earth|the hell|is it|am i|should)\b|^\W*why\b",
    ),
    (
        "why_question",
        0.35,
        "how & come possible ok okay fair hard dare",
        r"how (?:come|is (?:it|that|this) (?:possible|ok|okay|fair)|hard is it|dare)\b",
    ),
    (
        "why_question",
        0.35,
        "what what's whats & going deal problem holdup hold happened",
        r"what(?:'s| is) (?:going on|the (?:deal|problem|holdup|hold up))\b|what happened\b",
    ),
    # Impatience.
    ("impatience", 0.45, "hurry", r"hurry up\b"),
    ("impatience", 0.45, "come & on", r"come on\b"),
    ("impatience", 0.45, "asap seriously", r"asap\b|seriously\b"),
    ("impatience", 0.45, "get & done sorted fixed", r"get (?:it|this) (?:done|sorted|fixed)\b"),
    (
        "impatience",
        0.45,
        "just & tell give book get answer do send fix pick",
        r"just (?:tell|give|book|get|answer|do|send|fix|pick) (?:me|it|us|one|the)\b",
    ),
    ("impatience", 0.45, "update & any an", r"(?:any|an) update\b"),
    ("impatience", 0.45, "still & waiting", r"still waiting\b"),
    (
        "impatience",
        0.45,
        "answer respond reply & me my",
        r"(?:answer|respond to|reply to) (?:me|my)\b",
    ),
    ("dont_care", 0.6, "care", r"i (?:really |just |honestly )?(?:don'?t|do not) care\b"),
    (
        "uncaring",
        0.8,
        "care cares",
        r"(?:you|they|nobody|no one|noone) (?:clearly |obviously |just |really )?(?:don'?t|do not"
        r"|didn'?t|did not|doesn'?t|does not|never) (?:even |seem to )?care\b"
        r"|(?:nobody|no one|noone) cares\b",
    ),
    # Turning down what the bot offered.
    (
        "rejects_offer",
        0.4,
        "like want & it that this them those these either any",
        r"(?:don'?t|do not) (?:like|want) (?:it|that|this|them|those|these|either|any of)\b",
    ),
    ("rejects_offer", 0.4, "interested none", r"not interested\b|none of (?:them|those|these)\b"),
    (
        "rejects_offer",
        0.4,
        "work suit & won't wont doesn't doesnt not wouldn't wouldnt don't dont",
        r"(?:that|it|this|those|these|neither) (?:won'?t|doesn'?t|does not|will not|would not"
        r"|wouldn'?t|don'?t|do not) (?:work|suit)\b",
    ),
    (
        "rejects_offer",
        0.4,
        "too & early late expensive pricey far high much small soon pricy costly",
        r"too (?:early|late|expensive|pricey|far|high|much|small|soon|pricy|costly)\b",
    ),
    (
        "rejects_offer",
        0.4,
        "unfortunately bad shame pity",
        r"unfortunately\b|too bad\b|what a (?:shame|pity)\b|that'?s a (?:shame|pity)\b",
    ),
    # Sarcasm: praise that is about a failure.
    (
        "sarcasm",
        0.9,
        "great thanks thank brilliant perfect wonderful nice good fantastic awesome & nothing",
        r"(?:great|thanks|thank you|brilliant|perfect|wonderful|nice|good|fantastic|awesome)"
        r",? (?:thanks |thank you )?for nothing\b",
    ),
    (
        "sarcasm",
        0.9,
        "great thanks thank brilliant perfect wonderful nice good fantastic awesome & job helps",
        r"(?:great|brilliant|perfect|wonderful|nice|good|fantastic|awesome),? (?:that helps\b"
        r"(?=.{0,40}\b(?:not|no|never))|job\b(?=.{0,40}\b(?:not|no|never|nothing|lost|losing"
        r"|broke|broken|late|again|still|wrong|forgot|missed|stuck|cancel\w*|delay\w*)\b))",
    ),
    (
        "sarcasm",
        0.9,
        "thanks thank thx & nothing ruining losing wasting making leaving ignoring delay delays "
        "wait waiting hold cancellation cancelled canceled runaround trouble another",
        r"(?:thanks?|thx) (?:you )?(?:again )?(?:a lot |so much )?for (?:nothing|ruining|losing"
        r"|wasting|making me|leaving|ignoring|(?:the|another) (?:\w+ ){0,2}(?:delay|wait|hold"
        r"|cancel\w*|runaround|trouble))",
    ),
    ("sarcasm", 0.9, "yeah & right", r"yeah,? right\b"),
    ("sarcasm", 0.9, "much & so", r"(?<!thanks )(?<!thank you )(?<!thank )so much for\b"),
    ("sarcasm", 0.9, "what & joke surprise shock", r"what a (?:joke|surprise|shock)\b"),
    ("sarcasm", 0.9, "~#not ~#sarcas", r"#not\b|#sarcas"),
    # Praise taken back: "really helpful... not".
    ("sarcasm", 0.9, "not", r"(?:(?<=[.,\u2026-] )|(?<=[.,\u2026-]))not\W*$"),
    (
        "sarcasm",
        0.9,
        "just oh & great perfect wonderful brilliant fantastic lovely",
        r"(?:just|oh|oh so) (?:great|perfect|wonderful|brilliant|fantastic|lovely)\b",
    ),
    (
        "sarcasm",
        0.9,
        "love & how being waiting sitting spending getting",
        r"love (?:how|being|waiting|sitting|spending|getting)\b",
    ),
    # Answering the bot with a correction: "No, I need it on the 9th".
    (
        "leading_no",
        0.75,
        "*",
        r"^\W*(?:oh,? )?(?:no|nope|nah|negative)\b(?!\W*$)(?![\s,.!-]*(?:"
        + "|".join(_POLITE_NO)
        + r"))",
    ),
    # Contrastive correction that opens the message: "Not Tuesday, Wednesday", "Not the red one -
    # the blue one".
    (
        "correction",
        0.6,
        "not",
        r"^\W*(?:oh,? )?not "
        + _NOT_DECLINING
        + r"(?:the |that |this |a |an |on |at |in |for )?\w+(?: \w+)?\s*[,;:-]+\s*"
        r"(?:(?:i said|i meant|it'?s|it was|but) )?(?:the |a |on |at |in |for )?\w",
    ),
    # Weak signs of a complaint, telling only beside other cues: a contrast ("it arrived, but..."),
    # blame in hindsight ("you should have told me"), effort against an obstacle ("I'm trying to").
    (
        "contrast",
        0.15,
        "but however although though",
        r"(?:but|however|although|though)\b(?!,? (?:thanks|thank|thx|cheers|no worries))",
    ),
    (
        "hindsight",
        0.3,
        "should shouldn't shouldnt could would should've could've would've",
        r"(?:should|could|would)(?:n'?t)? have\b|(?:should|could|would)'ve\b",
    ),
    ("effort", 0.15, "trying tried", r"(?:trying|tried) to\b"),
    # Restating with a contrast: "I need the reference number, not the train ID".
    (
        "contrast_correction",
        0.35,
        "not",
        r"(?<=[,;-] )(?<!no, )(?<!nah, )(?<!oh, )not "
        + _NOT_DECLINING
        + r"(?:the |a |an |on |at |in |for |that |this )?\w+\b(?! (?:only|just)\b)",
    ),
    # Asking for something else than what was offered.
    (
        "asks_alternative",
        ALTERNATIVE_WEIGHT,
        "else different another instead other",
        r"(?:anything|something|somewhere|anywhere|someone|what) else\b|(?:a|any|some) different\b"
        r"|another (?:one|option|place|time|day|choice)\b|instead\b"
        r"|(?:any|some) other (?:options?|ones?|choices?|places?|times?)\b",
    ),
    # Apologising and restating: the conversation went off track.
    (
        "sorry_correction",
        0.75,
        "sorry",
        r"^\W*(?:oh,? |um,? |hmm,? |ah,? )?(?:i'?m |i am |so )?sorry\b(?! to| for (?:the|your))"
        r".*\b(?:actually|instead|misspoke|rather|meant|mean|changed?|need|want|would like|'d like"
        r"|looking for)\b",
    ),
    (
        "sorry_correction",
        0.35,
        "sorry",
        r"^\W*(?:oh,? |um,? |hmm,? |ah,? )?(?:i'?m |i am |so )?sorry\b(?! to| for (?:the|your))",
    ),
)

# Conversation trouble that praise opening the same message is likely mocking, with the weight of
# each cue's first (strongest) entry.
_SARCASM_TARGETS = {
    cue: weight
    for cue, weight, _, _ in reversed(_PHRASES)
    if cue
    in (
        "already_said asked_again how_many_times repeated_again going_in_circles fed_up"
        " waste_of_time correction not_understood not_working still_broken no_one never_happened"
        " uncaring".split()
    )
}

_ALWAYS = tuple(
    (cue, weight, re.compile(pattern)) for cue, weight, gate, pattern in _PHRASES if gate == "*"
)
_BY_SUBSTRING = tuple(
    (cue, weight, tuple(part[1:] for part in gate.split()), re.compile(pattern))
    for cue, weight, gate, pattern in _PHRASES
    if gate.startswith("~")
)
_WORD_GATED = tuple(entry for entry in _PHRASES if entry[2] != "*" and not entry[2].startswith("~"))
# Word-gated phrase i owns bit 2i (its first word group) and, for "a & b" gates, bit 2i + 1.
# The word pass ORs together the bits of the message's words; a phrase runs only when its bits
# are all set.
_BY_WORD = tuple(
    (cue, weight, (1 << (2 * i + 1)) if "&" in gate else 0, re.compile(pattern))
    for i, (cue, weight, gate, pattern) in enumerate(_WORD_GATED)
)
_FIRST_BITS = sum(1 << (2 * i) for i in range(len(_WORD_GATED)))

_NONE, _STRONG, _NEGATIVE, _PROFANITY, _FAILURE, _MILD_FAILURE = range(6)
_PERSIST, _NEGATOR, _POSITIVE, _COURTESY = range(6, 10)


def _table() -> dict[str, tuple[int, int]]:
    """Each known word: its kind and the gate bits it sets."""
    kinds: dict[str, int] = {}
    # Later lists win, so the most specific reading of a word is the one kept.
    for kind, entries in (
        (_NEGATOR, lex.NEGATORS),
        (_POSITIVE, lex.POSITIVE),
        (_COURTESY, lex.COURTESY),
        (_PERSIST, lex.PERSISTENCE),
        (_MILD_FAILURE, lex.MILD_SERVICE_FAILURE),
        (_FAILURE, lex.SERVICE_FAILURE),
        (_NEGATIVE, lex.NEGATIVE),
        (_STRONG, lex.STRONG_NEGATIVE),
        (_PROFANITY, lex.PROFANITY),
    ):
        for entry in entries:
            kinds[entry] = kind
    bits: dict[str, int] = {}
    for i, (_, _, gate, _) in enumerate(_WORD_GATED):
        first, _, second = gate.partition("&")
        for word in first.split():
            bits[word] = bits.get(word, 0) | 1 << (2 * i)
        for word in second.split():
            bits[word] = bits.get(word, 0) | 1 << (2 * i + 1)
    return {word: (kinds.get(word, _NONE), bits.get(word, 0)) for word in kinds.keys() | bits}


_TABLE = _table()
_KNOWN = frozenset(_TABLE)

_CAPS_RUN = re.compile(r"[A-Z][A-Z][A-Z]")
_CAPS_WORD = re.compile(r"\b[A-Z]{3,}\b")
_ALPHA_WORD = re.compile(r"\b[A-Za-z]{3,}\b")
# Capitalised for emphasis: "I have NEVER", "STILL waiting", "NOT happy".
_EMPHASIS = frozenset(
    "not never still again why now no nobody nothing worst help ever zero".split()
)
_NEGATIVE_EMOTICON = re.compile(lex.NEGATIVE_EMOTICONS)
_POSITIVE_EMOTICON = re.compile(lex.POSITIVE_EMOTICONS)
_HASHTAG = re.compile(r"#(\w+)")
_SARCASTIC_OPENER = re.compile(
    r"\W*(?:oh,? |wow,? |well,? |yeah,? |just |so |oh so )?(?:great|perfect|wonderful|brilliant"
    r"|fantastic|lovely|awesome|nice|super|terrific|excellent|amazing|marvell?ous|splendid|cool"
    r")\b(?: job| work| stuff| one)?\s*[,.!]"
)
# Swearing with letters masked: a short start, then a "*" or two or more symbols ("sh*t", "f**k",
# "f*%#ed"), four characters at least so that "A*B" is not one.
_MASKED_SWEARING = re.compile(
    r"\b(?=[a-z*#%$@!]{4})(?:f|s|sh|b|a|d|h|bs|wt)(?:[*#%$@!]*\*[*#%$@!]*|[*#%$@!]{2,})"
    r"[a-z]{0,5}(?![\w*#%$@!])"
)


class FrustrationScore(NamedTuple):
    """A message's score and the names of the cues that produced it (a named tuple: one is
    made for every customer message, and a tuple is the cheapest immutable record)."""

    score: float
    cues: tuple[str, ...]


def _caps_ratio(text: str) -> float:
    """Share of alphabetic words (three letters or more) written in capitals."""
    candidates = _ALPHA_WORD.findall(text)
    if len(candidates) < 2:
        return 0.0
    return len(_CAPS_WORD.findall(text)) / len(candidates)


def _search_word(pattern: re.Pattern[str], text: str) -> bool:
    """Whether ``pattern`` matches somewhere in ``text`` starting at the start of a word."""
    for match in pattern.finditer(text):
        start = match.start()
        if start == 0 or not (text[start - 1].isalnum() or text[start - 1] in "'_"):
            return True
    return False


def _negated(tokens: list[str], index: int) -> bool:
    start = max(0, index - NEGATION_WINDOW)
    return any(tokens[j] in lex.NEGATORS for j in range(start, index))


def score_message(
    text: str, folded: str | None = None, tokens: list[str] | None = None
) -> FrustrationScore:
    """Score one customer message; pure and total (any string gives a score in 0..1).

    ``folded`` is ``normalise(text)`` and ``tokens`` is ``words(folded)`` when the caller
    already has them.
    """
    folded = normalise(text) if folded is None else folded
    if not folded:
        return FrustrationScore(score=0.0, cues=())
    tokens = words(folded) if tokens is None else tokens
    cues: list[str] = []

    emotion = profanity = failure = persistence = 0.0
    negators = negated_praise = positives = 0
    praise_at = -1
    courtesy = False
    gates = 0
    # Each distinct known word once, in a fixed order so the float sums are reproducible.
    for token in sorted(_KNOWN.intersection(tokens)):
        kind, bits = _TABLE[token]
        gates |= bits
        if kind == _NONE:
            continue
        if kind == _NEGATOR:
            negators += tokens.count(token)
        elif kind == _COURTESY:
            courtesy = True
            positives += 1
            praise_at = max(praise_at, tokens.index(token))
        elif kind == _POSITIVE:
            index = tokens.index(token)
            if _negated(tokens, index):
                negated_praise += 1
            else:
                positives += 1
                praise_at = max(praise_at, index)
        elif kind == _FAILURE:
            failure += FAILURE_WEIGHT
        elif kind == _MILD_FAILURE:
            failure += MILD_FAILURE_WEIGHT
        elif kind == _PERSIST:
            persistence += PERSISTENCE_WEIGHT
        elif kind == _PROFANITY:
            profanity += PROFANITY_WEIGHT
        else:
            weight = STRONG_WEIGHT if kind == _STRONG else NEGATIVE_WEIGHT
            index = tokens.index(token)
            if _negated(tokens, index):
                weight *= NEGATED_NEGATIVE_FACTOR
            elif index and tokens[index - 1] in lex.INTENSIFIERS:
                weight += INTENSIFIED_BONUS
            emotion += weight

    if "#" in text:
        for tag in _HASHTAG.findall(folded):
            if len(tag) > 5 and tag not in _KNOWN and any(s in tag for s in lex.HASHTAG_STEMS):
                emotion += NEGATIVE_WEIGHT
                break

    weight = emotion + profanity
    if emotion:
        cues.append("negative_words")
    if profanity:
        cues.append("profanity")
    if failure:
        if "if" in tokens or "whether" in tokens:
            # "What is the fee if I cancel?" asks about a policy; nothing has gone wrong yet.
            failure *= HYPOTHETICAL_FACTOR
        weight += min(failure, FAILURE_CAP)
        cues.append("service_failure")
    if persistence:
        weight += persistence
        cues.append("persistence")
    if negators:
        weight += min(negators * NEGATOR_WEIGHT, NEGATOR_CAP)
        cues.append("negation")
    if negated_praise:
        weight += NEGATED_POSITIVE_WEIGHT * negated_praise
        cues.append("negated_praise")

    for cue, phrase_weight, pattern in _ALWAYS:
        if pattern.search(folded):
            cues.append(cue)
            weight += phrase_weight
    pending = gates & _FIRST_BITS
    while pending:
        lowest = pending & -pending
        pending ^= lowest
        cue, phrase_weight, second, pattern = _BY_WORD[lowest.bit_length() >> 1]
        if (not second or gates & second) and cue not in cues and _search_word(pattern, folded):
            cues.append(cue)
            weight += phrase_weight
    for cue, phrase_weight, parts, pattern in _BY_SUBSTRING:
        if cue not in cues:
            for part in parts:
                if part in folded:
                    if _search_word(pattern, folded):
                        cues.append(cue)
                        weight += phrase_weight
                    break

    if _CAPS_RUN.search(text):
        if _caps_ratio(text) >= 0.5:
            weight += CAPS_WEIGHT
            cues.append("shouting")
        elif any(word.lower() in _EMPHASIS for word in _CAPS_WORD.findall(text)):
            weight += EMPHASIS_WEIGHT
            cues.append("emphasis")
    # "sh*t", "f**k": swearing with letters masked is still swearing.
    if (
        not profanity
        and ("*" in text or "$$" in text or "#" in text)
        and _MASKED_SWEARING.search(folded)
    ):
        weight += PROFANITY_WEIGHT
        cues.append("profanity")
    if "!!" in text or "??" in text or "?!" in text or "!?" in text:
        weight += PUNCTUATION_WEIGHT
        cues.append("repeated_punctuation")
    if ":" in text or "-" in text or "<" in text or ";" in text:
        if _NEGATIVE_EMOTICON.search(text):
            weight += NEGATIVE_EMOJI_WEIGHT
            cues.append("negative_emoji")
        if _POSITIVE_EMOTICON.search(text):
            positives += 1
    if not text.isascii():
        glyphs = set(text)
        if "negative_emoji" not in cues and not glyphs.isdisjoint(lex.NEGATIVE_EMOJI):
            weight += NEGATIVE_EMOJI_WEIGHT
            cues.append("negative_emoji")
        if not glyphs.isdisjoint(lex.POSITIVE_EMOJI):
            positives += 1

    if positives and "sarcasm" not in cues:
        # Evidence of a complaint the praise could be mocking: negative words or trouble in the
        # conversation (not a calm mention of a delay, a fee or a time).
        evidence = emotion + profanity + persistence
        evidence += sum(_SARCASM_TARGETS.get(cue, 0.0) for cue in cues)
        if evidence >= SARCASM_EVIDENCE and _SARCASTIC_OPENER.match(folded):
            # Praise that opens a complaint: sarcasm.
            weight += SARCASM_CONTEXT_WEIGHT
            cues.append("sarcasm")
    if positives and "sarcasm" not in cues:
        relief = min(POSITIVE_RELIEF + EXTRA_POSITIVE_RELIEF * (positives - 1), POSITIVE_RELIEF_CAP)
        if weight >= COMPLAINT_EVIDENCE and not courtesy:
            relief *= 0.5
        elif weight >= SARCASM_EVIDENCE and "but" in tokens and tokens.index("but") > praise_at:
            # "Thanks, but that's still wrong": what follows "but" is what the message means.
            relief *= 0.5
        weight = max(0.0, weight - relief)
        cues.append("positive_words")

    score = 1.0 - math.exp(-weight)
    return FrustrationScore(score=round(score, 4), cues=tuple(cues))
