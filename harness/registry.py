"""One generic registry for every kind of plugin-provided thing (models, datasets, ...)."""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from harness.errors import PluginLoadError, UnknownNameError

T = TypeVar("T")


@dataclass(frozen=True)
class Entry(Generic[T]):
    """A registered factory and where it came from.

    Attributes:
        name: the name experiment files use.
        factory: the callable that builds the thing.
        plugin: name of the plugin that registered it.
        description: one line for ``harness plugins``.
        check: optional ``check(options) -> list[tuple[str, str]]`` that validates
            options without building anything (no heavy imports); each problem is
            ``(option_key, message)``, with ``""`` as key for the block as a whole.
        example: options that build a small, fast instance, used by the contract tests
            of :mod:`harness.testing` (None: the factory's defaults).
        preprocessing: for models, optional ``preprocessing(options) ->
            harness.Preprocessing``: the normalisation and crop the model expects (None:
            ImageNet mean/std, no crop).
        fingerprint: for datasets, optional ``fingerprint(options) -> str``: the
            fingerprint the built dataset will carry, computed without building it (None:
            the dataset is built to learn it).
    """

    name: str
    factory: T
    plugin: str
    description: str = ""
    check: Callable[[dict[str, Any]], list[tuple[str, str]]] | None = None
    example: dict[str, Any] | None = None
    preprocessing: Callable[[dict[str, Any]], Any] | None = None
    fingerprint: Callable[[dict[str, Any]], str] | None = None


@dataclass
class Registry(Generic[T]):
    """Named factories of one kind.

    Plugins call :meth:`register` from their ``harness_register_*`` hook. The host sets
    :attr:`current_plugin` before calling each plugin so that duplicates name both sides.
    """

    kind: str
    _entries: dict[str, Entry[T]] = field(default_factory=dict)
    current_plugin: str = "<unknown>"
    _default: str | None = None

    def register(
        self,
        name: str,
        factory: T,
        *,
        description: str = "",
        check: Callable[[dict[str, Any]], list[tuple[str, str]]] | None = None,
        default: bool = False,
        example: dict[str, Any] | None = None,
        preprocessing: Callable[[dict[str, Any]], Any] | None = None,
        fingerprint: Callable[[dict[str, Any]], str] | None = None,
    ) -> None:
        """Register ``factory`` under ``name``.

        Args:
            name: the name experiment files use.
            factory: what builds the thing (see the ``harness_register_*`` hook).
            description: one line for ``harness plugins``.
            check: ``check(options) -> list[harness.Problem]`` that validates options
                without building anything (see :mod:`harness.options`).
            default: the entry used when an experiment names none (the default
                dataset, say); at most one per kind.
            example: options that build a small, fast instance (a tiny architecture,
                a few samples), which :mod:`harness.testing`'s contract tests use.
            preprocessing: models only: ``preprocessing(options) -> harness.Preprocessing``,
                the mean/std, interpolation and crop the model expects (see
                :mod:`harness.preprocess`); without it a model gets ImageNet mean/std.
            fingerprint: datasets only: ``fingerprint(options) -> str``, equal to the
                ``fingerprint`` of the dataset the factory would build from those options,
                computed cheaply (no decoding); a rerun then builds no dataset it does
                not train on.

        Raises:
            PluginLoadError: the name is empty or already taken by another plugin, or a
                second default is claimed.
        """
        if not isinstance(name, str) or not name:
            raise PluginLoadError(f"plugin {self.current_plugin!r} registered a {self.kind} with an empty name")
        if name in self._entries:
            other = self._entries[name].plugin
            raise PluginLoadError(
                f"{self.kind} {name!r} is registered twice: by plugin {other!r} and by plugin {self.current_plugin!r}"
            )
        if default and self._default is not None:
            raise PluginLoadError(f"{self.kind} {name!r} of plugin {self.current_plugin!r} claims to be the default, "
                                  f"but {self._default!r} of plugin {self._entries[self._default].plugin!r} already is")
        self._entries[name] = Entry(name, factory, self.current_plugin, description, check,
                                    None if example is None else dict(example), preprocessing, fingerprint)
        if default:
            self._default = name

    @property
    def default(self) -> str | None:
        """The name registered with ``default=True``, or None."""
        return self._default

    def entry(self, name: str) -> Entry[T]:
        """The entry for ``name``; an unknown name raises with suggestions."""
        try:
            return self._entries[name]
        except KeyError:
            raise UnknownNameError(self.unknown_message(name)) from None

    def get(self, name: str) -> T:
        """The factory registered under ``name``."""
        return self.entry(name).factory

    def unknown_message(self, name: str) -> str:
        """``unknown model 'x'. Did you mean 'y'? Available: ...``."""
        close = difflib.get_close_matches(str(name), list(self._entries), n=3, cutoff=0.5)
        hint = f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
        return f"unknown {self.kind} {name!r}.{hint} Available: {', '.join(sorted(self._entries)) or '(none)'}"

    def origin(self, name: str) -> str:
        """The plugin that registered ``name``."""
        return self.entry(name).plugin

    def names(self) -> list[str]:
        return sorted(self._entries)

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[Entry[T]]:
        return iter(self._entries[n] for n in self.names())

    def __len__(self) -> int:
        return len(self._entries)
