"""detect-secrets, loaded on first use and never allowed to reach the network.

`plugin(spec)` gives the plugin a line is routed to (handoff/gate/detectors.py decides which), built once: the
rule catalogue's own plugins (handoff/gate/plugins.py) or detect-secrets' classes, whose entropy arithmetic is
swapped for the same sums in one pass. `heuristics()` is detect-secrets' false-positive filter module
(handoff/gate/filters.py uses it). Nothing of detect-secrets is imported before one of them is asked for,
`requests` (which detect-secrets imports only to verify a value over the network) not even then, and the
verification filter is switched off.
"""

from __future__ import annotations

import importlib
import importlib.util
import math
import sys
import types
from collections import Counter
from functools import cache, lru_cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from handoff.gate.detectors import PluginSpec


class _DeferredModule(types.ModuleType):
    """Stands in for a module until an attribute of it is used, then imports the real one.

    detect_secrets.plugins.base imports `requests` (~120 ms) only to verify secrets over the network,
    which the gate never does. importlib.util.LazyLoader does not help on Python 3.11: the `import`
    statement itself reads `__spec__` of the module it finds in sys.modules, which loads it.
    """

    def __getattr__(self, attribute: str) -> Any:
        if sys.modules.get(self.__name__) is self:
            del sys.modules[self.__name__]
        real = importlib.import_module(self.__name__)
        self.__dict__.update(real.__dict__)
        return getattr(real, attribute)


def _defer_import(name: str) -> None:
    if name in sys.modules:
        return
    try:
        found = importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        found = False
    if found:
        sys.modules[name] = _DeferredModule(name)


@cache
def plugin(spec: PluginSpec) -> Any:
    _no_verification()
    if spec.module == "rules":
        return importlib.import_module("handoff.gate.plugins").CLASSES[spec.name]()
    module = importlib.import_module(f"detect_secrets.plugins.{spec.module}")
    plugin_class = getattr(module, spec.name)
    if spec.family == "entropy":
        plugin_class = type(spec.name, (plugin_class,), {"calculate_shannon_entropy": _shannon_entropy})
    return plugin_class()


@cache
def _no_verification() -> None:
    """Never let a plugin verify a value over the network (that would send the secret somewhere)."""
    _defer_import("requests")
    settings = importlib.import_module("detect_secrets.settings").get_settings()
    settings.filters.pop("detect_secrets.filters.common.is_ignored_due_to_verification_policies", None)


def _shannon_entropy(plugin: Any, data: str) -> float:
    """detect-secrets' entropy, same arithmetic in the same order (so the same float), in O(len(data)).

    The original counts each of the 64 charset characters with str.count: the gate's hottest loop.
    """
    if not data:
        return 0
    counts = Counter(data)
    entropy = 0.0
    for char in plugin.charset:
        count = counts.get(char)
        if count:
            p_x = float(count) / len(data)
            entropy += - p_x * math.log(p_x, 2)
    if plugin.secret_type == "Hex High Entropy String" and len(data) > 1 and data.isdigit():
        entropy -= 1.2 / math.log(len(data), 2)     # HexHighEntropyString's penalty for all-digit strings
    return entropy


@lru_cache(maxsize=1)
def heuristics() -> types.ModuleType:
    _defer_import("requests")
    return importlib.import_module("detect_secrets.filters.heuristic")


def detect_secrets_loaded() -> bool:
    return "detect_secrets" in sys.modules
