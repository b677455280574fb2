"""GitPython's command runner, loaded without the rest of GitPython.

`import git` runs the package's `__init__`, which loads everything (repositories, objects, refs, index, config,
remotes: about half of GitPython's import time) and then checks the git executable by running `git version`
twice, raising a multi-line ImportError when git is missing. The runner (`git.cmd.Git`) needs none of it. So
`git` is entered through a stand-in package: its submodules load as usual, and the real `__init__` runs in the
stand-in the first time anyone asks it for a name it does not have (`git.Repo`), so other code that imports
GitPython in the same process gets the whole package, as if nothing had happened.
"""

from __future__ import annotations

import importlib.util
import sys
import threading
import types
from typing import Any

_LOADING = threading.RLock()   # re-entrant: the package's own __init__ may ask it for a name while it loads


class _DeferredPackage(types.ModuleType):
    """Stands in for the `git` package until a name other than its submodules is asked for."""

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        with _LOADING:
            if not self.__dict__.get("_handoff_loaded"):
                self.__dict__["_handoff_loaded"] = True
                self.__spec__.loader.exec_module(self)  # type: ignore[union-attr]  # git/__init__.py, here
        try:
            return self.__dict__[name]
        except KeyError:
            raise AttributeError(f"module 'git' has no attribute {name!r}") from None


def _enter_package() -> None:
    if "git" in sys.modules:
        return
    spec = importlib.util.find_spec("git")
    if spec is None or spec.loader is None or not spec.submodule_search_locations:
        return   # not installed as a package: the import below fails as it would anyway
    package = _DeferredPackage("git")
    package.__spec__ = spec
    package.__path__ = list(spec.submodule_search_locations)
    package.__file__ = spec.origin
    package.__loader__ = spec.loader
    package.__package__ = "git"
    sys.modules["git"] = package


def runner() -> tuple[type, type[Exception]]:
    """(git.cmd.Git, git.exc.GitCommandNotFound)."""
    _enter_package()
    from git.cmd import Git
    from git.exc import GitCommandNotFound

    return Git, GitCommandNotFound
