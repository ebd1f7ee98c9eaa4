"""Word lists for the frustration score: emotion, service failure, courtesy, negation.

Every entry is a lower-case word token as ``workers.decision.text.words`` produces it
(apostrophes kept, so both "dont" and "don't" are listed where people write both). Weights are
in the score's own unit: a turn is negative from a total weight of about 0.7 (score 0.5).
"""

# Strong negative emotion or judgement: one of these alone makes a turn negative.
STRONG_NEGATIVE = frozenset(
    """
    furious livid outraged outrageous enraged infuriating infuriated fuming seething
    disgusted disgusting disgrace disgraceful appalling appalled atrocious abysmal horrible
    horrendous horrific horrid terrible terribly awful awfully dreadful deplorable worst
    pathetic useless worthless hopeless ridiculous ridiculously ludicrous laughable
    unacceptable inexcusable unforgivable incompetent incompetence clueless nightmare
    nightmarish disaster disastrous fiasco shambles scam scammed scammers ripoff
    swindled hate hated hates hating despise loathe sucks suck sucked sucky lousy shoddy
    shameful shameless rudest rude rudely insulting disrespectful unprofessional dishonest
    liars lying lied misery miserable heartbroken devastated debacle catastrophe inept
    ineptitude outrage
    """.split()
)
# Clear but milder negative emotion or judgement.
NEGATIVE = frozenset(
    """
    frustrated frustrating frustration frustrates annoyed annoying annoyance annoys irritated
    irritating aggravating aggravated angry anger mad upset upsetting disappointed
    disappointing disappointment disappoints unhappy dissatisfied displeased unsatisfied
    unimpressed stressed stressful distressed fed sick tired exhausted exhausting fault
    mess messed screwed ruined ruin ruins ruining unhelpful unreliable unfair unfriendly
    uncaring careless ignored ignoring ignore neglected nonsense absurd insane crazy
    unbelievable shocking shocked sad upsetting worse poorly poor bad badly inconvenience
    inconvenienced inconvenient hassle nuisance headache trouble troubles problem problems
    issue issues mistake mistakes error errors wrong wrongly fail fails failed failing
    failure failures broken broke lie lies liar misleading misled cheated cheat robbed
    worried worrying anxious concerned scared confusing confused stuck stranded joke
    rubbish garbage trash junk dirty filthy gross smelly cramped uncomfortable unbearable
    chaos chaotic pointless waste wasted wasting slow slowest sloppy lame meh ugh argh
    grr sigh smh omg seriously unreal shame pity regret regrettable painful
    complaint complaints complain complaining complained excuse excuses apology apologize
    disconnected unanswered unresolved unreachable overcharged overbooked oversold
    unhelpful nonhelpful robotic embarrassing embarrassed unnecessary egregious argued arguing
    dissatisfaction displeasure dismissive condescending patronizing patronising
    mediocre subpar inadequate lacking underwhelming letdown bummed bummer gutted grumpy irate
    irritate infuriate insult insulted inconsiderate disrespect disrespected rudeness neglect
    negligent negligence unresponsive nonexistent faulty defective malfunction malfunctioning
    inaccurate incorrect deceived deceptive overpriced gouge gouging greedy greed ordeal
    trapped unsettling sadly regrettably dismal yikes ughh fml amateur amateurish
    """.split()
)
# Swearing: strong, whatever the sentence.
PROFANITY = frozenset(
    """
    damn dammit damned goddamn hell crap crappy shit shitty bullshit fuck fucking fucked
    fucks fck fkn fuckin wtf ffs piss pissed bloody bs arse ass asshole bastard bastards
    """.split()
)
# Things going wrong in a service: neutral words that complaints are made of.
SERVICE_FAILURE = frozenset(
    """
    delayed delay delays delaying cancelled canceled cancellation cancellations cancelling
    canceling late lateness missed missing lost damaged stolen diverted bumped rerouted
    misconnect misconnected   waiting waited queue queued queues hung
    dropped disconnect overdue outage overbook nobody noone   refused
    refuse refuses refusing crash crashed crashes crashing glitch glitches bug buggy frozen
    freezes unusable misplaced mishandled
    """.split()
)
# Money matters: asked about calmly as often as complained about.
MILD_SERVICE_FAILURE = frozenset(
    """
    refund refunds refunded compensation compensate reimburse reimbursement reimbursed
    charged charge charges fee fees unavailable declined rejected denied expired fix
    """.split()
)
# Words that make a complaint persistent or pointed.
PERSISTENCE = frozenset("still again yet anymore already even ever".split())
# Negators: they flip a following positive word ("not helpful") and soften a negative one.
# ("nobody" is also a service-failure word; as a word it counts as that.)
NEGATORS = frozenset(
    """
    not no never nothing none nobody cannot can't cant won't wont didn't didnt doesn't doesnt
    don't dont isn't isnt wasn't wasnt aren't arent haven't havent hasn't hasnt hadn't hadnt
    couldn't couldnt wouldn't wouldnt shouldn't shouldnt weren't werent without
    """.split()
)
INTENSIFIERS = frozenset(
    """
    very so extremely absolutely totally really completely utterly incredibly beyond such
    super truly seriously most highly deeply thoroughly
    """.split()
)
# Praise and satisfaction: they lower a score, unless negated or the message reads as sarcasm.
POSITIVE = frozenset(
    """
    appreciates appreciation great love loved loving loves lovely awesome amazing excellent
    wonderful fantastic brilliant perfect perfectly helpful kind kindly nice good glad happy
    pleased enjoy enjoyed enjoying smooth pleasant friendly courteous professional prompt quick fast
    congrats congratulations kudos bravo impressed impressive favorite favourite fabulous
    superb outstanding terrific beautiful best better yay woohoo lol haha grateful
    thankful safe comfortable resolved sorted fixed solved
    """.split()
)
# Plain courtesy: never negated ("no thanks" is still polite) and never halved.
COURTESY = frozenset("thanks thank thx thanx ty tks cheers appreciate appreciated".split())
# Hashtags run words together ("#neverflyingagain"); these stems mark a negative one.
HASHTAG_STEMS = tuple(
    """
    fail worst suck hate never fix ruin delay cancel stuck strand lost angry annoy frustrat
    disappoint unhappy nothappy fml smh wtf joke poor terrible awful horrible rude bad shame
    wait notcool nothelpful unacceptable sad ugh mess broken
    """.split()
)
# Emoticons, matched in the raw text.
# (":/" only when not part of "://", which every web address has.)
NEGATIVE_EMOTICONS = r":-?\(|:'\(|:-/|:/(?!/)|-\.-|-_-"
POSITIVE_EMOTICONS = r":-?\)|:-?D\b|;-?\)|<3|:P\b"
# Emoji, matched in the raw text.
NEGATIVE_EMOJI = frozenset(
    "\U0001f621 \U0001f620 \U0001f92c \U0001f624 \U0001f612 \U0001f61e \U0001f629 \U0001f62b "
    "\U0001f622 \U0001f62d \U0001f44e \U0001f644 \U0001f4a9 \U0001f61f \U0001f614 \U0001f615 "
    "\U0001f616 \U0001f623 \U0001f625 \U0001f630 \U0001f631 \U0001f632 \U0001f633 \U0001f635 "
    "\U0001f637 \U0001f611 \U0001f610 \U0001f62a \U0001f634 \U0001f926 \U0001f937".split()
)
POSITIVE_EMOJI = frozenset(
    "\U0001f60a \U0001f600 \U0001f603 \U0001f604 \U0001f601 \U0001f60d \U0001f618 \U0001f44d "
    "\U0001f64f \u2764 \U0001f499 \U0001f49c \U0001f49a \U0001f49b \U0001f495 \U0001f496 "
    "\U0001f60e \U0001f389 \U0001f44f \U0001f64c \U0001f917 \u263a \U0001f606 \U0001f602".split()
)
