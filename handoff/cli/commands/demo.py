"""`demo`: hand a sample task off to a local Devin API simulator and follow it; no key needed."""

from __future__ import annotations

import click

from handoff.cli.commands.simulator import END_CHOICES
from handoff.cli.options import json_option
from handoff.cli.render import Output
from handoff.errors import UsageError

# --- `demo` -----------------------------------------------------------------------------------------

DEMO_KEY = "cog_demo_simulator_only"
DEMO_TASK = "Make `average()` handle an empty list and add a test for it"
DEMO_CONTEXT = "average([]) raises ZeroDivisionError; callers expect 0.0. I started a fix locally."
DEMO_MESSAGES = [
    "Checked out the base commit and applied the handed-off patch (1 unpushed commit, 1 new file).",
    "average([]) now returns 0.0; added tests/test_stats.py::test_average_empty.",
    "All 3 tests pass. Opened a pull request with the change.",
]


def _git(cwd: str, *args: str) -> None:
    from handoff import repo

    status, _, err = repo.run_git(cwd, "-c", "user.name=Demo", "-c", "user.email=demo@example.com",
                                  "-c", "commit.gpgsign=false", *args)
    if status != 0:
        raise UsageError(f"the demo could not run git {args[0]}: {err.strip()}", "check that git works: git --version")


def _write(root: str, name: str, text: str) -> None:
    import os

    path = os.path.join(root, name)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(text)


def make_demo_repo(parent: str) -> str:
    """A small project pushed to a local 'origin', then a local commit, an edit and a new file on top."""
    import os

    root = os.path.join(parent, "stats")
    bare = os.path.join(parent, "stats-origin.git")
    os.makedirs(root)
    _git(parent, "init", "-q", "--bare", bare)
    _git(root, "init", "-q", "-b", "main")
    _write(root, "stats.py", "def average(values):\n    return sum(values) / len(values)\n")
    _write(root, "tests/test_stats.py", "from stats import average\n\n\ndef test_average():\n"
                                        "    assert average([1, 2, 3]) == 2\n")
    _git(root, "add", "-A")
    _git(root, "commit", "-q", "-m", "Add average()")
    _git(root, "remote", "add", "origin", "https://github.com/acme/stats.git")
    _git(root, "config", f"url.{bare}.insteadOf", "https://github.com/acme/stats.git")
    _git(root, "push", "-q", "-u", "origin", "main")
    _write(root, "README.md", "# stats\n\nSmall statistics helpers.\n")
    _git(root, "add", "README.md")
    _git(root, "commit", "-q", "-m", "Add a README")            # unpushed: travels in the patch
    _write(root, "stats.py", "def average(values):\n    if not values:\n        return 0.0\n"
                             "    return sum(values) / len(values)\n")   # uncommitted edit
    _write(root, "NOTES.md", "Remember the empty-list case.\n")             # untracked file
    return root


@click.command("demo")
@click.option("--step", "step_seconds", type=click.FloatRange(min=0.01), default=0.8, show_default=True,
              help="Seconds per simulated step.")
@click.option("--end", type=click.Choice(END_CHOICES), default="finished", show_default=True,
              help="How the simulated session ends.")
@json_option
def demo(step_seconds: float, end: str, json_mode: bool) -> int:
    """Hand a sample task off to a local Devin API simulator and follow it: the whole flow, no key needed.

    Builds a throw-away repo with an unpushed commit, an edit and a new file, shows what would be
    sent, gates it for secrets, creates the session and follows it until Devin stops.
    """
    import os
    import tempfile

    from handoff.simulator import DEFAULT_ORG, Simulator

    out = Output(json_mode)
    with tempfile.TemporaryDirectory(prefix="devin-handoff-demo-") as parent, \
            Simulator(step_seconds=step_seconds) as sim:
        repo_root = make_demo_repo(parent)
        sim.script(end=end, messages=DEMO_MESSAGES, pr=True)
        # The demo's journal, key and API stay inside the demo: nothing touches the user's state.
        os.environ.update({"XDG_STATE_HOME": os.path.join(parent, "state"), "DEVIN_API_URL": sim.base_url,
                           "DEVIN_API_KEY": DEMO_KEY, "DEVIN_ORG_ID": DEFAULT_ORG})
        os.environ.pop("DEVIN_USER_ID", None)
        out.say(f"Demo: a local Devin API simulator on {sim.base_url} and a sample repo in {repo_root}", "bold")
        out.say(f"$ devin-handoff create --task {DEMO_TASK!r} --context …", "dim")
        return _demo_handoff(repo_root, out)


def _demo_handoff(repo_root: str, out: Output) -> int:
    from handoff.app.handoff import HandoffOptions, prepare
    from handoff.app.settings import load_settings
    from handoff.cli.commands.create import launch_prepared, show_summary

    settings = load_settings()
    prepared = prepare(DEMO_TASK, DEMO_CONTEXT, HandoffOptions(api_version=settings.api_version), path=repo_root)
    show_summary(prepared, out)
    return launch_prepared(prepared, settings, out, detach=False, interval=2.0, archive=False)
