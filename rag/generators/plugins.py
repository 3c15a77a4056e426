"""Plug-in chat models: any LangChain `BaseChatModel` by import path or by entry point.

    GROUNDED_GENERATOR=mypkg.models:make grounded ask "…"     # a factory by import path
    grounded ask --generator mymodel "…"                       # a factory registered as an entry point:

    # the plug-in's pyproject.toml
    [project.entry-points."grounded.generators"]
    mymodel = "mypkg.models:make"

The factory returns a `BaseChatModel` and takes either nothing or the `Settings` object (a
`BaseChatModel` class itself works too). The model then gets the same prompt, streaming,
citation check and glass box as the built-in generators (`rag.generators.llm.ChatGenerator`).
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import re
from collections.abc import Callable, Iterable
from importlib import metadata
from typing import TYPE_CHECKING, Any

from rag.errors import ConfigError

if TYPE_CHECKING:
    from rag.generators.llm import ChatGenerator
    from rag.settings import Settings

ENTRY_POINT_GROUP = "grounded.generators"
_IMPORT_PATH = re.compile(r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)*:[A-Za-z_]\w*(\.[A-Za-z_]\w*)*$")


def is_import_path(name: str) -> bool:
    """`package.module:factory` (the attribute may be dotted: `module:Class.method`)."""
    return bool(_IMPORT_PATH.match(name))


def entry_points() -> dict[str, metadata.EntryPoint]:
    """The installed `grounded.generators` entry points by name (the first of a duplicated name wins)."""
    found: dict[str, metadata.EntryPoint] = {}
    for ep in metadata.entry_points(group=ENTRY_POINT_GROUP):
        found.setdefault(ep.name, ep)
    return found


def available(builtins: Iterable[str]) -> str:
    """What `--generator` accepts, for error messages: built-ins, installed plug-ins, the import-path form."""
    names = list(builtins)
    plugins = [n for n in sorted(entry_points()) if n not in names]
    listed = ", ".join(names) + (f", plug-ins: {', '.join(plugins)}" if plugins else "")
    return f"{listed}, or package.module:factory"


def check_name(name: str, builtins: Iterable[str]) -> str | None:
    """Why `name` is not a usable generator name (None when it is); cheap: imports at most a parent package."""
    builtins = tuple(builtins)
    if name in builtins or name in entry_points():
        return None
    if is_import_path(name):
        module = name.split(":", 1)[0]
        try:
            found = importlib.util.find_spec(module) is not None
        except (ImportError, ValueError):
            found = False
        if found:
            return None
        return f"generator {name!r}: no module {module!r} can be imported: install its package or fix PYTHONPATH"
    return f"unknown generator {name!r}: choose one of {available(builtins)} (--generator or GROUNDED_GENERATOR)"


def resolve_factory(name: str) -> Callable[..., Any]:
    """The factory `name` points at (an entry point or `module:attr`), imported; errors say the fix."""
    ep = entry_points().get(name)
    target = ep.value if ep is not None else name
    if ep is None and not is_import_path(name):
        raise ConfigError(f"unknown generator {name!r}: not an entry point in {ENTRY_POINT_GROUP!r} nor module:factory")
    module_name, _, attr = target.partition(":")
    try:
        obj: Any = importlib.import_module(module_name)
    except ImportError as e:
        raise ConfigError(
            f"generator {name!r}: cannot import {module_name!r} ({e}): install the plug-in's package or fix PYTHONPATH"
        ) from None
    for part in attr.split(".") if attr else ():
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise ConfigError(
                f"generator {name!r}: {module_name!r} has no {attr!r}: check the name after ':'"
            ) from None
    if not callable(obj):
        raise ConfigError(f"generator {name!r}: {target} is not callable: point it at a factory function or class")
    return obj


def _takes_settings(factory: Callable[..., Any]) -> bool:
    """Whether the factory has a positional parameter for the settings (classes are built with no arguments)."""
    if inspect.isclass(factory):
        return False
    try:
        params = inspect.signature(factory).parameters.values()
    except (TypeError, ValueError):
        return False
    return any(p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD, p.VAR_POSITIONAL) for p in params)


def load_chat_model(name: str, settings: Settings) -> Any:
    """The `BaseChatModel` the plug-in `name` builds (its factory gets the settings if it takes an argument)."""
    from langchain_core.language_models import BaseChatModel

    factory = resolve_factory(name)
    try:
        model = factory(settings) if _takes_settings(factory) else factory()
    except ConfigError:
        raise
    except Exception as e:
        text = " ".join(str(e).split())[:300]
        raise ConfigError(
            f"generator {name!r}: its factory raised {type(e).__name__}: {text}: fix the plug-in or its settings"
        ) from None
    if not isinstance(model, BaseChatModel):
        raise ConfigError(
            f"generator {name!r}: the factory returned {type(model).__name__}, not a LangChain BaseChatModel"
        )
    return model


def plugin_generator(name: str, settings: Settings) -> ChatGenerator:
    """A `ChatGenerator` over the plug-in's chat model, named as the user named it."""
    from rag.generators.llm import ChatGenerator, plugin_fixes

    return ChatGenerator(name, load_chat_model(name, settings), fixes=plugin_fixes(name))
