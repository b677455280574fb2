"""Where the integration files (skills, plugin folders, hooks) live at run time.

A wheel ships `integrations/` and `hooks/` as `handoff/_data/<name>` (pyproject force-include).
Editable installs do not apply force-include, so a checkout falls back to the repository root.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from handoff.errors import ConfigError


def data_dir(name: str) -> Path:
    """The directory `name` (`integrations` or `hooks`) from the installed wheel or the checkout."""
    packaged = files("handoff") / "_data" / name
    if packaged.is_dir():
        return Path(str(packaged))
    checkout = Path(__file__).resolve().parents[2] / name
    if checkout.is_dir():
        return checkout
    raise ConfigError(f"integration files '{name}' are missing from this installation",
                      "reinstall devin-handoff (pipx reinstall devin-handoff)")


def data_file(*parts: str) -> Path:
    """One shipped file, e.g. `data_file("integrations", "cursor", "mcp.json")`."""
    path = data_dir(parts[0]).joinpath(*parts[1:])
    if not path.is_file():
        raise ConfigError(f"integration file {'/'.join(parts)} is missing from this installation",
                          "reinstall devin-handoff")
    return path
