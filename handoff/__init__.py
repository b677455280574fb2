"""devin-handoff: hand the current task and checkout state to a cloud Devin session."""

__version__ = "0.1.0"
