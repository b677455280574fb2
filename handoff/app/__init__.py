"""The use cases every face shares: `handoff.py` (prepare and launch), `sessions.py` (status, list,
messages, follow, outcomes), `fanout.py` (many tasks at once). Typed inputs, data and events out;
nothing here prints or imports click."""
