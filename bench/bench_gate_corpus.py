"""Recall and false blocks of the gate on the generated corpus, beside detect-secrets with its defaults.

Run: python bench/bench_gate_corpus.py [--list]

The corpus is tests/corpus/generate.py (values generated at run time). detect-secrets is given its
best chance: every file version of a case (old and new) is written to disk and scanned whole with
`SecretsCollection.scan_file` under `default_settings()` (so its file-type transformers run), and the
texts (task, context) are scanned as `.txt` files. A case counts as blocked when anything is found.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from corpus.generate import Case, benign, planted  # noqa: E402

from handoff.gate import gate  # noqa: E402


def _write(case: Case, root: Path) -> list[str]:
    written = []
    for version, index in (("old", 0), ("new", 1)):
        for path, pair in case.files.items():
            content = pair[index]
            if content is None:
                continue
            target = root / version / path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(content, encoding="utf-8")
            written.append(str(target.relative_to(root)))
    for key, text in case.texts.items():
        (root / f"{key}.txt").write_text(text, encoding="utf-8")
        written.append(f"{key}.txt")
    return written


def detect_secrets_blocks(case: Case) -> bool:
    from detect_secrets.core.secrets_collection import SecretsCollection
    from detect_secrets.settings import default_settings

    with tempfile.TemporaryDirectory() as tmp:
        files = _write(case, Path(tmp))
        here = os.getcwd()
        os.chdir(tmp)  # its is_invalid_file filter resolves paths against the working directory
        try:
            with default_settings():
                secrets = SecretsCollection()
                for name in files:
                    secrets.scan_file(name)
                return bool(list(secrets))
        finally:
            os.chdir(here)


def gate_blocks(case: Case) -> bool:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for path, (_old, new) in case.files.items():
            if new is not None:
                (root / path).parent.mkdir(parents=True, exist_ok=True)
                (root / path).write_text(new, encoding="utf-8")
        return gate(case.patch(), case.texts, repo_root=tmp).report.blocked


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--list", action="store_true", help="name every case a tool gets wrong")
    args = parser.parse_args()
    cases = {"planted": planted(), "benign": benign()}
    started = time.perf_counter()
    wrong: dict[str, list[str]] = {"gate": [], "detect-secrets": []}
    counts: Counter[tuple[str, str]] = Counter()
    for group, items in cases.items():
        for case in items:
            for tool, blocks in (("gate", gate_blocks), ("detect-secrets", detect_secrets_blocks)):
                blocked = blocks(case)
                counts[tool, group] += blocked
                if blocked != case.planted:
                    wrong[tool].append(f"{group}: {case.name}")
    planted_n, benign_n = len(cases["planted"]), len(cases["benign"])
    print(f"secret-gate corpus: {planted_n} planted, {benign_n} benign cases ({time.perf_counter() - started:.1f} s)")
    print(f"  {'tool':<32} {'recall':>16} {'false blocks':>16}")
    for tool, label in (("gate", "devin-handoff gate"), ("detect-secrets", "detect-secrets 1.5 defaults")):
        recall = counts[tool, "planted"]
        false = counts[tool, "benign"]
        print(
            f"  {label:<32} {recall:>4}/{planted_n} ({100 * recall / planted_n:5.1f} %) "
            f"{false:>5}/{benign_n} ({100 * false / benign_n:4.1f} %)"
        )
    if args.list:
        for tool, names in wrong.items():
            print(f"\n{tool} gets wrong ({len(names)}):")
            for name in names:
                print(f"  {name}")


if __name__ == "__main__":
    main()
