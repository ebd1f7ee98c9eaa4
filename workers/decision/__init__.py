"""The decision core: pure functions from (session state, event) to (new state, decision).

Nothing here does I/O or imports Faust, so the worker, ``escalator replay``, the evaluation and
the benchmarks all run exactly the same code.
"""

from workers.decision.engine import DecisionEngine, Outcome
from workers.decision.lifecycle import Removal
from workers.decision.policy import Policy, Route
from workers.decision.state import SessionState

__all__ = ["DecisionEngine", "Outcome", "Policy", "Removal", "Route", "SessionState"]
