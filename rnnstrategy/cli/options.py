"""Command-line options derived from the settings dataclasses, so no setting is written twice.

Every field of a settings dataclass (:class:`~rnnstrategy.ashare.rules.AShareRules`, the specs of
:mod:`rnnstrategy.config`; the forecaster's two classes through :mod:`rnnstrategy.cli.forecaster`) becomes
one option: the name ``--field-name`` (or ``metadata["flag"]``), the type and choices from the
type hint, the default from the field and the help from ``metadata["help"]``:

- ``bool``: ``--lots`` / ``--no-lots`` (or the flag and ``metadata["negative"]``);
- ``Literal[...]``: a choice;
- ``int``, ``float``, ``str``, and ``X | None`` (``none`` gives None);
- ``tuple[int, ...]``, ``tuple[str, ...]``: comma-separated values (``--hidden 80,100``);
- ``metadata["positional"]`` with ``nargs`` ``*``/``+``: one or several positional values
  (one is the value itself, several a tuple);
- ``dict[str, ...]``: ``KEY=VALUE``, repeated (``--param k=10 --param entry_threshold=0.002``);
  values are read as TOML values (``10`` an int, ``0.5`` a float, ``true`` a bool, else text).

:func:`add_options` adds a dataclass's options to a parser; :func:`values_from_args` reads
them back as keyword arguments of the dataclass.

The strategies own their parameters: :func:`add_strategy_options` derives ``--NAME VALUE`` (the
same as ``--param NAME=VALUE``) from the parameters and help of the ready strategies, and
:func:`strategy_params` merges them into ``--param``'s. They import Backtrader, so a
:class:`CommandParser` adds them when its command is parsed or its help shown, not when the
command line is built.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import types
import typing
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Literal

from rnnstrategy.errors import ConfigError

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

__all__ = ["STRATEGY_OPTIONS", "CommandParser", "HelpFormatter", "add_options", "add_strategy_options",
           "argument_keywords", "build", "check_output_dir", "flag_of", "output_dir", "parse_value",
           "strategy_params", "values_from_args"]

STRATEGY_OPTIONS = "parameters of the ready strategies (--NAME VALUE is --param NAME=VALUE)"
"""The title of the group of :func:`add_strategy_options` in a command's help."""

PARAM_DEST = "strategy_param."
"""Where an option ``--NAME VALUE`` of :func:`add_strategy_options` leaves its value: ``args.<PARAM_DEST>NAME``."""


def check_output_dir(out: os.PathLike[str] | str, option: str = "--out") -> None:
    """Refuse an output directory that cannot be written, before any work: a path longer than the system
    allows, a path that is a file, or a directory (or its nearest existing parent) that is not writable."""
    from rnnstrategy.files import check_writable_dir

    check_writable_dir(out, option)


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Shows each option's default, unless the help already explains it or there is none;
    sequences as they are typed (``gap,ret,high``)."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        if action.default is None or action.default == () or "default" in text or not action.option_strings:
            return text
        if isinstance(action.default, tuple):
            return f"{text} (default: {','.join(str(v) for v in action.default)})"
        return super()._get_help_string(action)


class CommandParser(argparse.ArgumentParser):
    """A command's parser that can add options when it is first used (parsed, or its help shown) rather
    than when it is built, so that building the whole command line imports no heavy library."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._deferred: list[Callable[[argparse.ArgumentParser], None]] = []

    def defer(self, add: Callable[[argparse.ArgumentParser], None]) -> None:
        """Call ``add(self)`` before this parser first parses or formats its help."""
        self._deferred.append(add)

    def _add_deferred(self) -> None:
        while self._deferred:
            self._deferred.pop(0)(self)

    def parse_known_args(self, args: Any = None, namespace: Any = None) -> tuple[argparse.Namespace, list[str]]:
        self._add_deferred()
        return super().parse_known_args(args, namespace)

    def format_help(self) -> str:
        self._add_deferred()
        return super().format_help()


def flag_of(field: dataclasses.Field) -> str:
    """The option of a field: ``metadata["flag"]``, else ``--`` and its name with dashes."""
    return str(field.metadata.get("flag") or "--" + field.name.replace("_", "-"))


def _dest(cls: type, field: dataclasses.Field) -> str:
    return f"{cls.__name__}.{field.name}"  # no clash between dataclasses with a field of one name


def _fields(cls: type, exclude: tuple[str, ...]) -> Iterator[tuple[dataclasses.Field, Any]]:
    hints = typing.get_type_hints(cls, include_extras=False)
    for field in dataclasses.fields(cls):
        if field.name not in exclude:
            yield field, hints[field.name]


def _optional(hint: Any) -> tuple[Any, bool]:
    """``(X, True)`` for ``X | None``, else ``(hint, False)``."""
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        arms = [arm for arm in typing.get_args(hint) if arm is not type(None)]
        if len(arms) == 1 and len(typing.get_args(hint)) == 2:
            return arms[0], True
    return hint, False


def parse_value(text: str) -> Any:
    """A TOML value from text (``10`` int, ``0.5`` float, ``true`` bool, ``[1, 2]`` list), else the text."""
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


def _key_value(option: str, values: Callable[[str], Any]) -> Callable[[str], tuple[str, Any]]:
    def parse(text: str) -> tuple[str, Any]:
        key, sep, value = text.partition("=")
        if not sep or not key.strip():
            raise argparse.ArgumentTypeError(f"{option} {text!r}: give KEY=VALUE, e.g. {option} k=10")
        return key.strip(), values(value.strip())

    return parse


def _scalar(option: str, kind: type) -> Callable[[str], Any]:
    def parse(text: str) -> Any:
        try:
            return kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{option} {text!r}: expected {kind.__name__}") from None

    return parse


def _sequence(option: str, kind: type) -> Callable[[str], tuple[Any, ...]]:
    item = _scalar(option, kind)

    def parse(text: str) -> tuple[Any, ...]:
        parts = [part.strip() for part in text.split(",")]
        if not any(parts):
            raise argparse.ArgumentTypeError(f"{option} {text!r}: give comma-separated values, e.g. a,b")
        if not all(parts):  # "8,,8" or "8,": a value left out, not two layers
            raise argparse.ArgumentTypeError(f"{option} {text!r}: a value is missing between commas; give each "
                                             "value once, e.g. 80,100")
        return tuple(item(part) for part in parts)

    return parse


def _or_none(parse: Callable[[str], Any], option: str = "") -> Callable[[str], Any]:
    """``parse``, or None for ``none``; an empty value is refused (``--forecasts ""`` is a slip, not a choice)."""

    def parse_or_none(text: str) -> Any:
        if not text.strip():
            raise argparse.ArgumentTypeError(f"{option} {text!r}: the value is empty; give one, or none for "
                                             "the default".strip())
        return None if text.strip().lower() == "none" else parse(text)

    return parse_or_none


def output_dir(text: str) -> Path:
    """An output folder option's value (``--out DIR``): an empty one is refused, not read as the current folder."""
    if not text.strip():
        raise argparse.ArgumentTypeError(f"{text!r} is empty: give a folder to write to, e.g. runs/NAME (. for "
                                         "the current folder)")
    return Path(text)


def argument_keywords(option: str, hint: Any) -> dict[str, Any]:
    """``add_argument`` keywords (type, choices, action, metavar) of ``option``, a field's of type ``hint``."""
    hint, optional = _optional(hint)
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if hint is bool and not optional:
        return {"action": argparse.BooleanOptionalAction}
    metavar = {int: "N", float: "X"}.get(hint, option.lstrip("-").upper().replace("-", "_"))
    if origin is Literal:
        choices = list(args)
        return {"type": (lambda text: None if text == "none" else text) if optional else str,
                "choices": [*choices, None] if optional else choices}
    if origin is tuple and len(args) == 2 and args[1] is Ellipsis:
        parse = _sequence(option, args[0])
        return {"type": _or_none(parse, option) if optional else parse, "metavar": f"{args[0].__name__.upper()},..."}
    if origin is dict or hint is dict:
        value_type = args[1] if len(args) == 2 else Any
        parse = _key_value(option, parse_value if value_type is Any else _scalar(option, value_type))
        return {"type": parse, "action": "append", "metavar": "KEY=VALUE"}
    if hint in (int, float, str):
        parse = _scalar(option, hint)
        return {"type": _or_none(parse, option) if optional else parse, "metavar": metavar}
    raise TypeError(f"{option}: no command-line form for type {hint!r}")  # a new field type: teach it here


def add_options(parser: argparse.ArgumentParser | argparse._ArgumentGroup, cls: type, *,
                exclude: tuple[str, ...] = ()) -> None:
    """Add one option per field of the dataclass ``cls`` (see the module docstring)."""
    for field, hint in _fields(cls, exclude):
        metadata = field.metadata
        help_text = str(metadata.get("help", "")).replace("%", "%%")  # argparse formats help with %
        if metadata.get("nargs") in ("*", "+"):  # a positional of one or several values, e.g. DATA...
            parser.add_argument(_dest(cls, field), help=help_text, metavar=metadata["positional"],
                                nargs=metadata["nargs"])
            continue
        keywords = argument_keywords(flag_of(field), hint)
        if "metavar" in metadata:
            keywords["metavar"] = metadata["metavar"]
        if field.default is not dataclasses.MISSING:
            default = field.default
        elif field.default_factory is not dataclasses.MISSING:
            default = field.default_factory()
        else:
            default = dataclasses.MISSING
        if keywords.get("action") == "append":
            default = None  # argparse appends to a given default; the empty mapping is built later
        if hint is bool and "negative" in metadata:  # e.g. --no-short / --allow-short: no "--no-no-short"
            parser.add_argument(flag_of(field), dest=_dest(cls, field), action="store_true", default=default,
                                help=help_text)
            parser.add_argument(metadata["negative"], dest=_dest(cls, field), action="store_false",
                                default=argparse.SUPPRESS, help=f"turn {flag_of(field)} off")
            continue
        if "positional" in metadata:
            keywords["metavar"] = metadata["positional"]
            if "nargs" in metadata:
                keywords["nargs"] = metadata["nargs"]
            parser.add_argument(_dest(cls, field), help=help_text, **keywords)
            continue
        parser.add_argument(flag_of(field), dest=_dest(cls, field), help=help_text,
                            **({"default": default} if default is not dataclasses.MISSING else {"required": True}),
                            **keywords)


def values_from_args(cls: type, args: argparse.Namespace, *, exclude: tuple[str, ...] = ()) -> dict[str, Any]:
    """The keyword arguments of ``cls`` that :func:`add_options` options hold in ``args``."""
    values: dict[str, Any] = {}
    for field, _ in _fields(cls, exclude):
        value = getattr(args, _dest(cls, field))
        if field.metadata.get("nargs") in ("*", "+"):  # several values: a tuple; one: itself; none: None
            value = (None if not value else value[0] if len(value) == 1 else tuple(value))
        elif isinstance(value, list) and all(isinstance(pair, tuple) and len(pair) == 2 for pair in value):
            value = dict(value)  # KEY=VALUE pairs
        elif value is None and field.default_factory is not dataclasses.MISSING:
            value = field.default_factory()
        values[field.name] = value
    return values


def build(cls: type, args: argparse.Namespace, **fixed: Any) -> Any:
    """``cls(**values_from_args(cls, args), **fixed)``, with a dataclass's refusal as a ConfigError."""
    try:
        return cls(**{**values_from_args(cls, args, exclude=tuple(fixed)), **fixed})
    except TypeError as exc:
        raise ConfigError(f"{cls.__name__}: {exc}") from None


def add_strategy_options(parser: argparse.ArgumentParser | argparse._ArgumentGroup) -> None:
    """One option ``--NAME VALUE`` per parameter a ready strategy declares (``--k 10`` is ``--param k=10``),
    with the type, default and help the strategy gives it; nothing here names a parameter, so a new
    one needs an edit of its strategy only. Imports Backtrader (see :class:`CommandParser`)."""
    from rnnstrategy.backtrader.registry import ready_parameters

    for name, takers in ready_parameters().items():
        option, param = "--" + name.replace("_", "-"), takers[0][1]
        parse = _scalar(option, param.kind) if param.kind in (int, float, str) else parse_value
        metavar = {int: "N", float: "X"}.get(param.kind, "VALUE")
        same_default = len({repr(taken.default) for _, taken in takers}) == 1
        default = f"; default {param.default}" if same_default and param.default is not None else ""
        help_text = (f"{', '.join(strategy for strategy, _ in takers)}: {param.help}{default} "
                     f"(the same as --param {name}={metavar})")
        parse = _or_none(parse, option) if param.default is None else parse
        parser.add_argument(option, dest=PARAM_DEST + name, type=parse,
                            default=argparse.SUPPRESS, help=help_text.replace("%", "%%"), metavar=metavar)


def strategy_params(args: argparse.Namespace, params: dict[str, Any]) -> dict[str, Any]:
    """``params`` (``--param KEY=VALUE``) and the options of :func:`add_strategy_options` given in ``args``.

    Raises:
        ConfigError: for a parameter given twice with two values (``--k 3 --param k=4``).
    """
    from rnnstrategy.config import merge_params

    return merge_params(params, {dest[len(PARAM_DEST):]: value for dest, value in vars(args).items()
                                 if dest.startswith(PARAM_DEST)})
