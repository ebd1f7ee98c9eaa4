"""Cheaper ``model_copy(update=...)`` and ``model_construct`` for the decision core's models.

The engine copies the session state (and some evidence) with a few fields changed on every
event, and makes evidence on most. pydantic's ``model_copy`` costs about twice what the copy
needs (it copies the private and extra slots these models never use) and gives every copy a
set of its own naming the fields set explicitly: about 1.2 kB per session state, which nothing
in escalator reads (no ``exclude_unset``, no ``model_fields_set``).

``evolve`` is ``model_copy(update=...)`` for such a model (a shallow copy of the fields, the
updates applied without validation) whose copy shares its original's fields set instead of
extending a copy of it; ``construct`` is ``model_construct`` given every field, the fields set
one set per class. Both set the instance attributes ``model_construct`` sets; those are
pydantic's, this is the one module that relies on them, and ``tests/unit/test_evolve.py``
compares the results with pydantic's own on every model the engine builds this way, so an
upgrade that changes them fails there.
"""

from collections.abc import Mapping
from typing import Any, TypeVar

from pydantic import BaseModel

M = TypeVar("M", bound=BaseModel)

_new = object.__new__
_set = object.__setattr__
_ALL_FIELDS: dict[type[BaseModel], set[str]] = {}


def evolve(model: M, updates: Mapping[str, Any]) -> M:
    """``model.model_copy(update=updates)`` for a model without extra or private fields,
    sharing ``model``'s fields set."""
    copied = _new(type(model))
    _set(copied, "__dict__", {**model.__dict__, **updates})
    _set(copied, "__pydantic_fields_set__", model.__pydantic_fields_set__)
    _set(copied, "__pydantic_extra__", None)
    _set(copied, "__pydantic_private__", None)
    return copied


def construct(cls: type[M], **values: Any) -> M:
    """``cls.model_construct(**values)`` when ``values`` names every field of ``cls``."""
    made = _new(cls)
    _set(made, "__dict__", values)
    fields = _ALL_FIELDS.get(cls)
    if fields is None:
        fields = _ALL_FIELDS[cls] = set(cls.model_fields)
    _set(made, "__pydantic_fields_set__", fields)
    _set(made, "__pydantic_extra__", None)
    _set(made, "__pydantic_private__", None)
    return made
