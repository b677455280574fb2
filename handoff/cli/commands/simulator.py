"""`simulator`: run the Devin API simulator (handoff/simulator/) on 127.0.0.1 in the foreground."""

from __future__ import annotations

import signal
import threading

import click

from handoff.cli.render import Output
from handoff.errors import UsageError

# the simulator's END_STATES and SUSPEND_REASONS, spelt out so `--help` does not import the simulator
END_CHOICES = ("finished", "waiting_for_user", "waiting_for_approval", "error", "suspended", "exit", "expired",
               "stopped")
SUSPEND_CHOICES = ("inactivity", "user_request", "usage_limit_exceeded", "out_of_credits", "out_of_quota",
                   "no_quota_allocation", "payment_declined", "org_usage_limit_exceeded",
                   "total_session_limit_exceeded", "error")


@click.command("simulator")
@click.option("--port", type=click.IntRange(0, 65535), default=0, show_default=True,
              help="Port on 127.0.0.1 (0 picks a free one).")
@click.option("--step", "step_seconds", type=click.FloatRange(min=0.001), default=1.0, show_default=True,
              help="Seconds per session step (each step: a state change or a Devin message).")
@click.option("--end", type=click.Choice(END_CHOICES), default="finished", show_default=True,
              help="How sessions end.")
@click.option("--suspend-reason", type=click.Choice(SUSPEND_CHOICES), default="inactivity", show_default=True,
              help="With --end suspended: the v3 status_detail (inactivity and user_request are not failures).")
@click.option("--no-org-in-self", "org_less", is_flag=True,
              help="GET /v3/self answers org_id null (org-scoped routes still work).")
def simulator(port: int, step_seconds: float, end: str, suspend_reason: str, org_less: bool) -> int:
    """Run the Devin API simulator on 127.0.0.1 in the foreground; prints its base URL, Ctrl-C stops it."""
    from handoff.simulator import DEFAULT_ORG, Simulator

    sim = Simulator(step_seconds=step_seconds, port=port, org_in_self=not org_less)
    sim.script(end=end, suspend_reason=suspend_reason)
    try:
        sim.start()
    except OSError as exc:
        raise UsageError(f"cannot listen on 127.0.0.1:{port}: {exc.strerror or exc}",
                         "pick another --port, or 0 for a free one") from None
    out = Output()
    click.echo(sim.base_url)
    out.say(f"Devin API simulator on {sim.base_url} (v1: any apk_… key; v3: any cog_… key, org {DEFAULT_ORG}).")
    out.say(f"  export DEVIN_API_URL={sim.base_url} DEVIN_API_KEY=cog_sim DEVIN_ORG_ID={DEFAULT_ORG}")
    out.say("Ctrl-C stops it.")
    stopped = threading.Event()
    in_main_thread = threading.current_thread() is threading.main_thread()
    if in_main_thread:  # `kill` (SIGTERM) ends it as cleanly as Ctrl-C
        previous = signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    try:
        while not stopped.wait(0.2):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        if in_main_thread:
            signal.signal(signal.SIGTERM, previous)
        sim.stop()
    return 0
