"""Follow benchmarks against the bundled simulator (127.0.0.1 only), bounded to about 90 s.

    python bench/bench_follow.py           # latency at two message cadences + idle request rate, both key kinds
    python bench/bench_follow.py --quick   # latency only (about 25 s)

Latency: the simulator records when each Devin message became visible (publish_times); the bench
reads `devin-handoff tail --json` line by line and notes when each message event arrives.
Idle rate: a session that stays in progress with nothing new (step_seconds far beyond the window);
requests counted from the simulator's log over the window after the first idle minute.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import signal
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from handoff.simulator import Simulator  # noqa: E402

KEYS = {"v1": "apk_bench_0123456789abcdef", "v3": "cog_bench_0123456789abcdef"}
IDLE_WINDOW = (45.0, 88.0)  # seconds after the follow started; the back-off has reached its cap by 45 s


def _env(sim: Simulator, kind: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DEVIN_")}
    env.update(NO_COLOR="1", DEVIN_API_URL=sim.base_url, DEVIN_API_KEY=KEYS[kind], DEVIN_ORG_ID=sim.org_id,
               XDG_STATE_HOME=os.environ.get("BENCH_STATE", "/tmp/devin-handoff-bench-state"))
    return env


def _create(sim: Simulator, kind: str) -> str:
    url = f"{sim.base_url}/v1/sessions" if kind == "v1" else f"{sim.base_url}/v3/organizations/{sim.org_id}/sessions"
    answer = httpx.post(url, json={"prompt": "bench", "tags": ["handoff"]},
                        headers={"Authorization": f"Bearer {KEYS[kind]}"})
    answer.raise_for_status()
    return answer.json()["session_id"]


def _tail(sim: Simulator, kind: str, sid: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "handoff", "tail", sid, "--json"], env=_env(sim, kind),
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)


def latency(kind: str, step: float, count: int) -> dict[str, object]:
    """Seconds from a message's publication to its line on the follower's stdout."""
    with Simulator(step_seconds=step) as sim:
        sim.script(messages=[f"message {n}" for n in range(count)], steps=count + 1, end="finished")
        sid = _create(sim, kind)
        proc = _tail(sim, kind, sid)
        seen: dict[str, float] = {}
        assert proc.stdout is not None
        for line in proc.stdout:
            event = json.loads(line)
            if event["event"] == "message":
                seen[event["event_id"]] = time.monotonic()
        proc.wait()
        published = sim.publish_times(sid)
        # the first message may predate the follower's start-up; count only those published after it began
        start = sim.requests[1]["at"] if len(sim.requests) > 1 else 0.0
        delays = [seen[e] - published[e] for e in seen if published[e] > start]
        requests = len(sim.requests) - 1
    return {"kind": kind, "step_s": step, "messages": len(seen), "measured": len(delays),
            "median_s": round(statistics.median(delays), 3) if delays else None,
            "max_s": round(max(delays), 3) if delays else None, "requests": requests, "exit": proc.returncode}


def idle_rate(kind: str, results: dict[str, object]) -> None:
    """Requests per minute once a session has shown nothing new for a minute."""
    with Simulator(step_seconds=3600) as sim:
        sim.script(messages=["never shown"], steps=2)
        sid = _create(sim, kind)
        begun = time.monotonic()
        proc = _tail(sim, kind, sid)
        time.sleep(IDLE_WINDOW[1])
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=10)
        times = [r["at"] - begun for r in sim.requests[1:]]
    first_minute = sum(1 for t in times if t < 60)
    window = [t for t in times if IDLE_WINDOW[0] <= t < IDLE_WINDOW[1]]
    gaps = [b - a for a, b in itertools.pairwise(window)]
    mean_gap = statistics.mean(gaps) if gaps else float("nan")
    results[kind] = {"kind": kind, "first_minute_requests": first_minute, "mean_gap_s": round(mean_gap, 2),
                     "idle_requests_per_minute": round(60 / mean_gap, 2) if gaps else None,
                     "interrupt_exit": proc.returncode}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="latency only")
    args = parser.parse_args()
    started = time.monotonic()
    idle: dict[str, object] = {}
    threads = [] if args.quick else [threading.Thread(target=idle_rate, args=(kind, idle)) for kind in KEYS]
    for thread in threads:
        thread.start()
    rows = [latency(kind, step, count) for kind in KEYS for step, count in ((0.5, 12), (4.0, 4))]
    for thread in threads:
        thread.join()
    print("| key | step s | messages | median latency s | max latency s | requests | exit |")
    print("|---|---|---|---|---|---|---|")
    for row in rows:
        print(f"| {row['kind']} | {row['step_s']} | {row['measured']}/{row['messages']} | {row['median_s']} "
              f"| {row['max_s']} | {row['requests']} | {row['exit']} |")
    if idle:
        print()
        print("| key | requests in 1st minute | mean gap once idle s | idle requests/min | exit on Ctrl-C |")
        print("|---|---|---|---|---|")
        for kind in KEYS:
            row = idle[kind]
            print(f"| {kind} | {row['first_minute_requests']} | {row['mean_gap_s']} "
                  f"| {row['idle_requests_per_minute']} | {row['interrupt_exit']} |")
    print(f"\n(total {time.monotonic() - started:.0f} s)")


if __name__ == "__main__":
    main()
