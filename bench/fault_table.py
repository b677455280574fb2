"""Print the fault matrix and the persistent-fault table (tests/fault_matrix.py) and the durability matrix
(tests/durability_matrix.py) as the README carries them.

Usage: python bench/fault_table.py
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from durability_matrix import markdown_table as durability_table
from fault_matrix import markdown_table, persistent_table


def main() -> int:
    print(markdown_table())
    print()
    print(persistent_table())
    print()
    print(durability_table())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
