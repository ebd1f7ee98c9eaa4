"""A cheaper ``model_copy(update=...)`` for the decision core's frozen pydantic models.

The engine copies the session state (and some evidence) with a few fields changed on every
event; pydantic's ``model_copy`` costs about twice what the copy needs, because it goes
through ``__copy__`` and copies the private and extra slots the models never use. ``evolve``
does what ``model_copy`` does for such a model (a shallow copy of the fields, the updates
applied without validation, the updated names added to the fields set) through the same
instance attributes ``model_construct`` sets. Those attributes are pydantic's: this is the
one module that relies on them, and ``tests/unit/test_evolve.py`` compares the two on every
model the engine evolves, so an upgrade that changes them fails there.
"""

from collections.abc import Mapping
from typing import Any, TypeVar

from pydantic import BaseModel

M = TypeVar("M", bound=BaseModel)

_new = object.__new__
_set = object.__setattr__


def evolve(model: M, updates: Mapping[str, Any]) -> M:
    """``model.model_copy(update=updates)`` for a model without extra or private fields."""
    copied = _new(type(model))
    _set(copied, "__dict__", {**model.__dict__, **updates})
    _set(copied, "__pydantic_fields_set__", model.__pydantic_fields_set__.union(updates))
    _set(copied, "__pydantic_extra__", None)
    _set(copied, "__pydantic_private__", None)
    return copied
