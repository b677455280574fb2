"""httpx, without the command-line tool its package imports whenever `rich` is installed (click, rich,
pygments: more than the rest of httpx, and never used here). Without `main`, httpx falls back to a stub."""

import sys
import types

sys.modules.setdefault("httpx._main", types.ModuleType("httpx._main"))

import httpx  # noqa: E402

__all__ = ["httpx"]
