"""Secret gate benchmark: throughput, import cost, and the 100 KB case the CLI budget is about.

Run: /work/venv/bin/python bench/bench_secrets.py [--quick]

The diff is generated: Python code, a package-lock.json with sha512 integrity values, base64 test
fixtures and hex ids, with one fake AWS key id and one fake GitHub token planted (built at run time).
"""

from __future__ import annotations

import argparse
import base64
import os
import random
import statistics
import subprocess
import sys
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _code(rng: random.Random, n: int) -> list[str]:
    return [
        f"def handler_{n}(request, context=None):",
        f'    """Handle request {n}: look the user up, then answer."""',
        "    user = request.user  # the signed-in user",
        f"    items = [x for x in range({n % 50 + 3}) if x % 3 == 0]",
        "    logger.info('processing %s items for %s', len(items), user.name)",
        f"    result = {{'id': {n}, 'name': 'item-{n}', 'tags': ['a', 'b'], 'token': None}}",
        f"    cache_key = f\"handler:{{user.id}}:{n}\"",
        f"    trace_id = \"{rng.randbytes(16).hex()}\"",
        "    if not items:",
        f"        raise ValueError(\"no items for request {n}\")",
        "    return JsonResponse(result, status=200)",
        "",
    ]


def _lock(rng: random.Random, n: int) -> list[str]:
    name = f"pkg-{n}"
    return [
        f'    "node_modules/{name}": {{',
        f'      "version": "1.{n % 10}.{n % 7}",',
        f'      "resolved": "https://registry.npmjs.org/{name}/-/{name}-1.0.0.tgz",',
        f'      "integrity": "sha512-{base64.b64encode(rng.randbytes(64)).decode()}",',
        '      "dev": true',
        "    },",
    ]


def _fixture(rng: random.Random, n: int) -> list[str]:
    png = base64.b64encode(b"\x89PNG\r\n\x1a\n" + rng.randbytes(240)).decode()
    return [f'IMAGE_{n} = "{png}"', f'COMMIT_{n} = "{rng.randbytes(20).hex()}"', ""]


def make_diff(size: int, seed: int = 1) -> str:
    """A realistic new-file diff of about `size` bytes with two planted secrets."""
    rng = random.Random(seed)
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
    aws = "AK" + "IA" + "".join(rng.choice(alphabet) for _ in range(16))
    github = "gh" + "p_" + "".join(rng.choice("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
                                   for _ in range(36))
    parts: list[str] = []
    total = files = 0
    while total < size:
        kind = files % 4
        if kind in (0, 1):
            body = [line for i in range(25) for line in _code(rng, files * 100 + i)]
            path = f"src/app/module_{files}.py"
        elif kind == 2:
            body = [line for i in range(40) for line in _lock(rng, files * 100 + i)]
            path = f"web/pkg{files}/package-lock.json"
        else:
            body = [line for i in range(6) for line in _fixture(rng, files * 10 + i)]
            path = f"tests/fixtures/data_{files}.py"
        if files == 1:
            body[5:5] = [f'AWS_ACCESS_KEY_ID = "{aws}"', f"GITHUB_TOKEN = '{github}'"]
        text = (f"diff --git a/{path} b/{path}\nnew file mode 100644\nindex 0000000..e69de29\n--- /dev/null\n"
                f"+++ b/{path}\n@@ -0,0 +1,{len(body)} @@\n" + "".join(f"+{line}\n" for line in body))
        parts.append(text)
        total += len(text)
        files += 1
    return "".join(parts)


def _best(fn, repeat: int, clock=time.perf_counter) -> float:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(repeat):
        start = clock()
        fn()
        times.append(clock() - start)
    return min(times)


def _fresh_process(code: str, repeat: int) -> float:
    """Median wall time (s) printed by `code` run in a new interpreter."""
    samples = []
    for _ in range(repeat):
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
        samples.append(float(out.stdout.strip().splitlines()[-1]))
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="fewer repeats")
    args = parser.parse_args()
    repeat = 3 if args.quick else 7

    from handoff.gate import gate

    rows: list[tuple[str, str]] = []
    one_mb = make_diff(1_000_000)
    hundred_kb = make_diff(100_000)
    gate("", {"task": "warm up " + "gh" + "p_" + "x" * 36}, repo_root=None)   # imports detect-secrets

    result = gate(one_mb, {}, repo_root=None)
    seconds = _best(lambda: gate(one_mb, {}, repo_root=None), repeat)
    rows.append(("1 MB diff, warm: throughput", f"{len(one_mb) / 1e6 / seconds:.1f} MB/s ({seconds * 1000:.0f} ms)"))
    # CPU time of this process: the figure that does not move when other work shares the machine.
    cpu = _best(lambda: gate(one_mb, {}, repo_root=None), repeat, time.process_time)
    rows.append(("1 MB diff, warm: throughput by CPU time",
                 f"{len(one_mb) / 1e6 / cpu:.1f} MB/s ({cpu * 1000:.0f} ms)"))
    rows.append(("1 MB diff: findings", f"{len(result.report.findings)} (2 planted: "
                 + ", ".join(sorted({f.kind for f in result.report.findings})) + ")"))
    seconds = _best(lambda: gate(hundred_kb, {}, repo_root=None), repeat)
    rows.append(("100 KB diff, warm", f"{seconds * 1000:.1f} ms"))

    prelude = f"import sys, time; sys.path.insert(0, {str(ROOT)!r}); "
    gen = "from bench.bench_secrets import make_diff; d = make_diff(100_000); "
    rows.append(("import handoff.gate (fresh process)", "{:.1f} ms".format(1000 * _fresh_process(
        prelude + "t = time.perf_counter(); import handoff.gate; print(time.perf_counter() - t)", repeat))))
    # The IBM plugins annotate a function with `requests.Response`, which loads requests: they are
    # imported only when a line routes to them (a keyword followed by a 44/48-character token).
    lazy = ("t = time.perf_counter(); import handoff.gate.detectors as s; from handoff.gate import plugin_loader; "
            "[plugin_loader.plugin(p) for p in s.PLUGINS if not p.name.startswith('Ibm')]; plugin_loader.heuristics(); "
            "print(time.perf_counter() - t)")
    rows.append(("import handoff.gate + detect-secrets plugins, requests deferred",
                 f"{1000 * _fresh_process(prelude + lazy, repeat):.1f} ms"))
    rows.append(("  same, after click + GitPython are loaded (CLI case)",
                 f"{1000 * _fresh_process(prelude + 'import click, git; ' + lazy, repeat):.1f} ms"))
    cold = (prelude + "import click, git; " + gen + "t = time.perf_counter(); from handoff.gate import gate; "
            "gate(d, {'task': 'refactor the handlers'}, repo_root=None); print(time.perf_counter() - t)")
    rows.append(("100 KB diff, cold: import + gate (CLI case)", f"{1000 * _fresh_process(cold, repeat):.1f} ms"))
    plain = (prelude + "t = time.perf_counter(); import detect_secrets.plugins.base; "
             "print(time.perf_counter() - t)")
    rows.append(("for reference: plain `import detect_secrets` (loads requests)",
                 f"{1000 * _fresh_process(plain, repeat):.1f} ms"))
    width = max(len(name) for name, _ in rows)
    print(textwrap.dedent(f"""\
        secret gate benchmark (python {sys.version.split()[0]}, {len(one_mb) / 1e6:.2f} MB and \
{len(hundred_kb) / 1e3:.0f} KB generated diffs)"""))
    for name, value in rows:
        print(f"  {name.ljust(width)}  {value}")
    if os.environ.get("PYTHONDONTWRITEBYTECODE"):
        print("  note: PYTHONDONTWRITEBYTECODE is set, so fresh processes compile the project's modules from"
              " source (~+40 ms); run with it unset for installed-package figures")


if __name__ == "__main__":
    main()
