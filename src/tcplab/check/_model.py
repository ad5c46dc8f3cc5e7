"""The result of a check: decision, level, capabilities and the reasons, as pydantic models."""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict

from tcplab.check._engine import SCHEMA_VERSION

__all__ = ["SCHEMA_VERSION", "CheckReason", "CheckResult", "build_result"]

_M = TypeVar("_M", bound=BaseModel)
_new = object.__new__
# BaseModel's slot descriptors, set directly (object.__setattr__ looks each one up first)
_SET_DICT = BaseModel.__dict__["__dict__"].__set__
_SET_FIELDS = BaseModel.__dict__["__pydantic_fields_set__"].__set__
_SET_EXTRA = BaseModel.__dict__["__pydantic_extra__"].__set__
_SET_PRIVATE = BaseModel.__dict__["__pydantic_private__"].__set__


class CheckReason(BaseModel):
    """One part of the line and what raised (or set) its level.

    ``source``: ``registry`` (a tool's descriptor), ``knowledge`` (a rule of the invocation
    knowledge file, named in ``rule``), ``wrapper``, ``redirect``, ``pipeline`` (also a
    command substitution sent over the network), ``environment`` (a variable that makes
    programs run other code, named in ``rule``) or ``parser``.
    """

    model_config = ConfigDict(frozen=True)

    segment: str
    source: str
    rule: str
    risk_level: str
    decision: str
    capabilities: list[str]
    detail: str


class CheckResult(BaseModel):
    """The decision for a whole command line: the most severe of its parts."""

    model_config = ConfigDict(frozen=True)

    schema_version: int = SCHEMA_VERSION
    command: str
    decision: str
    risk_level: str
    capabilities: list[str]
    reasons: list[CheckReason]
    knowledge_version: int
    registry: str | None


def _build(cls: type[_M], data: dict[str, Any]) -> _M:
    """``cls.model_construct(**data)`` for ``data`` holding every field, in a fifth of the time.

    What ``model_construct`` does for a model without aliases, defaults left out, extras,
    private attributes or ``model_post_init`` (checked below, at import): the instance's
    ``__dict__`` is ``data`` and every field counts as set. ``tests/check`` pins the result to
    ``model_validate``'s.
    """
    m = _new(cls)
    _SET_DICT(m, data)
    _SET_FIELDS(m, set(data))
    _SET_EXTRA(m, None)
    _SET_PRIVATE(m, None)
    return m


for _cls in (CheckReason, CheckResult):  # what _build relies on
    assert not _cls.__pydantic_post_init__ and not _cls.__private_attributes__
    assert _cls.__new__ is object.__new__
    assert all(f.alias is None for f in _cls.model_fields.values())
    assert not {"__dict__", "__slots__"} & set(vars(_cls))  # BaseModel's slots hold the state


def build_result(data: dict[str, Any]) -> CheckResult:
    """The :class:`CheckResult` of :func:`tcplab.check._engine.result_dict`'s ``data``
    (trusted: made by the engine, every field present and typed; the dict is used as is)."""
    data["reasons"] = [_build(CheckReason, r) for r in data["reasons"]]
    return _build(CheckResult, data)
