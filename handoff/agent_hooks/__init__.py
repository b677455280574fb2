"""Agent and git hooks (`devin-handoff hook EVENT`), one module per job: `payload.py` (stdin JSON),
`shell.py` (finding handoff commands in a shell line), `gate_check.py` (the gate on what one would
send), `agent.py` (Claude Code / Codex), `cursor.py` (Cursor), `pre_push.py` (git).

They call the use cases in handoff/app/, never CLI commands, and do no network.
"""
