"""Typed plugin options: declared once, checked without building anything, resolved with defaults.

A plugin declares what its block of the experiment file takes::

    from harness import options as opt

    OPTIONS = opt.Options(
        "ensemble 'stacking'",
        meta_learner=opt.Choice("logistic", "ridge", default="logistic"),
        seed=opt.Int(default=0, min=0),
        weights=opt.List(opt.Float(min=0), min_items=1, doc="one per member"),
    )

    registry.register("stacking", Stacking, check=OPTIONS.check)   # problems, never raises
    settings = OPTIONS.resolve(options)                            # defaults filled in

Every problem is a :class:`Problem` ``(key, message)``; the validator turns it into
``file:line: key.path: message``. Unknown keys get one wording everywhere, with the
closest allowed key as "Did you mean ...?". Nothing here imports torch or numpy.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from harness.errors import HarnessError

__all__ = ["Any_", "Bool", "Choice", "Float", "Int", "List", "Option", "Options", "Problem", "Str", "Table",
           "did_you_mean", "is_int", "is_number", "unknown_keys"]


class Problem(NamedTuple):
    """One problem of an options block.

    Attributes:
        key: the option it is about (``""`` for the block as a whole); a dotted path
            (``"space.lr"``) points into a nested table.
        message: what is wrong, as a user reads it.
    """

    key: str
    message: str


REQUIRED: Any = object()
"""Default of an option that must be given."""


def is_int(value: Any) -> bool:
    """An integer, and not a bool (TOML ``true`` is no count)."""
    return isinstance(value, int) and not isinstance(value, bool)


def is_number(value: Any) -> bool:
    """A finite int or float, and not a bool."""
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def did_you_mean(name: str, choices: Iterable[str]) -> str:
    """``" Did you mean 'x'?"`` for the closest of ``choices``, or ``""``."""
    close = difflib.get_close_matches(str(name), [str(c) for c in choices], n=1, cutoff=0.6)
    return f" Did you mean {close[0]!r}?" if close else ""


def unknown_keys(options: Mapping[str, Any], allowed: Iterable[str], what: str = "this block") -> list[Problem]:
    """One :class:`Problem` per key of ``options`` not in ``allowed``, in the one wording."""
    allowed = sorted(allowed)
    return [Problem(key, f"unknown option of {what}.{did_you_mean(key, allowed)} Allowed: {', '.join(allowed) or '(none)'}")
            for key in options if key not in allowed]


@dataclass(frozen=True)
class Option:
    """One option: its type, default, bounds and extra rule.

    Build options with :func:`Int`, :func:`Float`, :func:`Bool`, :func:`Str`,
    :func:`Choice`, :func:`List`, :func:`Table` or :func:`Any_`.

    Attributes:
        kind: ``"int"``, ``"float"``, ``"bool"``, ``"str"``, ``"choice"``, ``"list"``,
            ``"table"`` or ``"any"``.
        default: the value when absent; :data:`REQUIRED` when it must be given.
        min, max: inclusive bounds of numbers (and of list lengths through ``min_items``).
        gt, lt: exclusive bounds.
        choices: allowed values of a choice.
        item: the option every list item must satisfy.
        min_items, max_items: list length bounds.
        nullable: ``None`` is allowed (and means "not set").
        rule: an extra ``rule(value) -> message or None``, run once the type is right.
        doc: one line for documentation.
    """

    kind: str
    default: Any = None
    min: float | None = None
    max: float | None = None
    gt: float | None = None
    lt: float | None = None
    choices: tuple[Any, ...] = ()
    item: Option | None = None
    min_items: int = 0
    max_items: int | None = None
    nullable: bool = False
    rule: Callable[[Any], str | None] | None = None
    doc: str = ""

    @property
    def required(self) -> bool:
        return self.default is REQUIRED

    def describe(self) -> str:
        """What the option accepts, as in "a positive integer", "a number > 0" or "one of 'a', 'b'"."""
        if self.kind == "choice":
            return "one of " + ", ".join(repr(c) for c in self.choices)
        if self.kind == "list":
            inner = f" of {self.item.describe()}" if self.item else ""
            if self.max_items is not None and self.max_items == self.min_items:
                size = f" of exactly {self.min_items} item{'s' * (self.min_items != 1)}"
            elif self.min_items:
                size = f" with at least {self.min_items} item{'s' * (self.min_items != 1)}"
            else:
                size = ""
            return f"a list{size}{inner}"
        if self.kind == "int" and (self.min, self.max, self.gt, self.lt) == (1, None, None, None):
            return "a positive integer"
        noun = {"int": "an integer", "float": "a number", "bool": "true or false", "str": "a string",
                "table": "a table", "any": "any value"}[self.kind]
        bounds = [f">= {_fmt(self.min)}" if self.min is not None else "", f"> {_fmt(self.gt)}" if self.gt is not None else "",
                  f"<= {_fmt(self.max)}" if self.max is not None else "", f"< {_fmt(self.lt)}" if self.lt is not None else ""]
        return " ".join([noun, " and ".join(b for b in bounds if b)]).strip()

    def problem(self, value: Any) -> str | None:
        """Why ``value`` is not acceptable, or None."""
        if value is None and self.nullable:
            return None
        if not self._type_ok(value) or not self._bounds_ok(value):
            return f"must be {self.describe()}, got {value!r}"
        if self.kind == "list" and self.item is not None:
            for i, item in enumerate(value):
                found = self.item.problem(item)
                if found:
                    return f"item {i + 1}: {found}"
        return self.rule(value) if self.rule else None

    def _type_ok(self, value: Any) -> bool:
        checks: dict[str, Callable[[Any], bool]] = {
            "int": is_int, "float": is_number, "bool": lambda v: isinstance(v, bool),
            "str": lambda v: isinstance(v, str), "choice": lambda v: _hashable(v) and v in self.choices,
            "list": lambda v: isinstance(v, list | tuple), "table": lambda v: isinstance(v, Mapping),
            "any": lambda v: True,
        }
        return checks[self.kind](value)

    def _bounds_ok(self, value: Any) -> bool:
        if self.kind == "list":
            return len(value) >= self.min_items and (self.max_items is None or len(value) <= self.max_items)
        if self.kind not in ("int", "float"):
            return True
        return ((self.min is None or value >= self.min) and (self.max is None or value <= self.max)
                and (self.gt is None or value > self.gt) and (self.lt is None or value < self.lt))


def _hashable(value: Any) -> bool:
    try:
        hash(value)
    except TypeError:
        return False
    return True


def _fmt(number: float) -> str:
    return str(int(number)) if float(number).is_integer() and abs(number) < 1e15 else repr(number)


def Int(default: Any = None, *, min: float | None = None, max: float | None = None,  # noqa: A002, N802
        gt: float | None = None, lt: float | None = None, nullable: bool = False,
        rule: Callable[[Any], str | None] | None = None, doc: str = "") -> Option:
    """An integer option (bools are refused)."""
    return Option("int", default, min, max, gt, lt, nullable=nullable, rule=rule, doc=doc)


def Float(default: Any = None, *, min: float | None = None, max: float | None = None,  # noqa: A002, N802
          gt: float | None = None, lt: float | None = None, nullable: bool = False,
          rule: Callable[[Any], str | None] | None = None, doc: str = "") -> Option:
    """A finite number option; integers are accepted."""
    return Option("float", default, min, max, gt, lt, nullable=nullable, rule=rule, doc=doc)


def Bool(default: Any = None, *, doc: str = "") -> Option:  # noqa: N802
    """A true/false option."""
    return Option("bool", default, doc=doc)


def Str(default: Any = None, *, nullable: bool = False, rule: Callable[[Any], str | None] | None = None,  # noqa: N802
        doc: str = "") -> Option:
    """A string option."""
    return Option("str", default, nullable=nullable, rule=rule, doc=doc)


def Choice(*choices: Any, default: Any = None, nullable: bool = False, doc: str = "") -> Option:  # noqa: N802
    """One of ``choices``; a near miss gets "Did you mean ...?"."""
    return Option("choice", default, choices=tuple(choices), nullable=nullable, doc=doc)


def List(item: Option | None = None, default: Any = None, *, min_items: int = 0,  # noqa: N802
         max_items: int | None = None, nullable: bool = False, rule: Callable[[Any], str | None] | None = None,
         doc: str = "") -> Option:
    """A list whose items each satisfy ``item``."""
    return Option("list", default, item=item, min_items=min_items, max_items=max_items, nullable=nullable,
                  rule=rule, doc=doc)


def Table(default: Any = None, *, rule: Callable[[Any], str | None] | None = None, doc: str = "") -> Option:  # noqa: N802
    """A nested table (checked by ``rule`` or by the plugin's own ``extra`` check)."""
    return Option("table", default, rule=rule, doc=doc)


def Any_(default: Any = None, *, rule: Callable[[Any], str | None] | None = None, doc: str = "") -> Option:  # noqa: N802
    """Any value, checked only by ``rule``."""
    return Option("any", default, rule=rule, doc=doc)


@dataclass(frozen=True)
class Options:
    """The options one plugin entry takes.

    Args:
        what: how messages name the block (``"the stacking ensemble"``).
        extra: ``extra(options) -> list[Problem]`` for rules across options; it runs
            once every declared option given is well typed (unknown keys, reported
            on their own, do not stop it) and sees the declared options only.
        open: accept keys that are not declared (passed through by :meth:`resolve`),
            for plugins that forward options to a library.
        **spec: option name to :class:`Option`.
    """

    what: str
    spec: dict[str, Option] = field(default_factory=dict)
    extra: Callable[[dict[str, Any]], list[Problem]] | None = None
    open: bool = False

    def __init__(self, what: str, /, *, extra: Callable[[dict[str, Any]], list[Problem]] | None = None,
                 open: bool = False, **spec: Option) -> None:  # noqa: A002
        object.__setattr__(self, "what", what)
        object.__setattr__(self, "spec", dict(spec))
        object.__setattr__(self, "extra", extra)
        object.__setattr__(self, "open", open)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self.spec)

    def __contains__(self, name: object) -> bool:
        return name in self.spec

    def check(self, options: Mapping[str, Any]) -> list[Problem]:
        """Every problem of ``options``: unknown keys and bad values in the order given, then
        missing required keys, then the ``extra`` rules."""
        problems = []
        for name, value in options.items():  # in the order the block lists them
            option = self.spec.get(name)
            if option is None:
                problems += [] if self.open else unknown_keys({name: value}, self.spec, self.what)
                continue
            found = option.problem(value)
            if found:
                hint = did_you_mean(value, map(str, option.choices)) if option.kind == "choice" else ""
                problems.append(Problem(name, found + ("." + hint if hint else "")))
        for name, option in self.spec.items():
            if name not in options and option.required:
                problems.append(Problem(name, f"is required by {self.what} ({option.describe()})"))
        typed = all(p.key not in self.spec for p in problems)  # an unknown key does not block the rules
        if typed and self.extra is not None:
            known = {k: v for k, v in options.items() if k in self.spec or self.open}
            problems += [Problem(*p) for p in self.extra(known)]
        return problems

    def resolve(self, options: Mapping[str, Any]) -> dict[str, Any]:
        """``options`` with defaults filled in; a :class:`HarnessError` naming every problem."""
        problems = self.check(options)
        if problems:
            raise HarnessError(f"{self.what}: " + "; ".join(f"{p.key or '(block)'}: {p.message}" for p in problems))
        out = {name: option.default for name, option in self.spec.items() if not option.required}
        out.update(options)
        return out

    def with_options(self, **more: Option) -> Options:
        """A copy with ``more`` options declared (a plugin extending a common set)."""
        return Options(self.what, extra=self.extra, open=self.open, **{**self.spec, **more})

    def docs(self) -> list[str]:
        """One line per option, for ``harness plugins`` and the README."""
        lines = []
        for name, option in self.spec.items():
            default = "required" if option.required else f"default {option.default!r}"
            lines.append(f"{name}: {option.describe()} ({default})" + (f"; {option.doc}" if option.doc else ""))
        return lines
