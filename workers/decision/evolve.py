"""Cheaper ``model_copy(update=...)`` and ``model_construct`` for the decision core's models.

The engine copies the session state (and some evidence) with a few fields changed on every
event; pydantic's ``model_copy`` costs about twice what the copy needs, because it goes
through ``__copy__`` and copies the private and extra slots the models never use. ``evolve``
does what ``model_copy`` does for such a model (a shallow copy of the fields, the updates
applied without validation, the updated names added to the fields set) through the same
instance attributes ``model_construct`` sets. Those attributes are pydantic's: this is the
one module that relies on them, and ``tests/unit/test_evolve.py`` compares the two on every
model the engine evolves, so an upgrade that changes them fails there. ``construct`` does the
same for ``model_construct`` given every field (the engine makes evidence on most events).
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


def construct(cls: type[M], **values: Any) -> M:
    """``cls.model_construct(**values)`` when ``values`` names every field of ``cls``."""
    made = _new(cls)
    _set(made, "__dict__", values)
    _set(made, "__pydantic_fields_set__", set(values))
    _set(made, "__pydantic_extra__", None)
    _set(made, "__pydantic_private__", None)
    return made
