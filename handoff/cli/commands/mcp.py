"""`devin-handoff mcp`: run the MCP server over stdio (needs the optional `mcp` extra)."""

from __future__ import annotations

import sys

import click

from handoff.errors import ConfigError, UsageError


@click.command()
def mcp() -> int:
    """Run the MCP server over stdio (tools: handoff_create, handoff_status, handoff_messages,
    handoff_send, handoff_list).

    \b
    Register it with an agent, e.g.:
      claude mcp add --scope user devin-handoff -- devin-handoff mcp
    Needs the optional extra: pip install 'devin-handoff[mcp]'.
    """
    if sys.stdin is None or sys.stdin.closed:  # the protocol's input: without it there is no client to serve
        raise UsageError("the MCP server talks over standard input, which is closed",
                         "let an MCP client start it (e.g. claude mcp add … -- devin-handoff mcp)")
    try:
        from handoff.mcp.server import main
    except ModuleNotFoundError as exc:
        if exc.name and exc.name.split(".")[0] in ("mcp", "pydantic", "anyio"):
            raise ConfigError("the MCP server needs the optional `mcp` package, which is not installed",
                              "pip install 'devin-handoff[mcp]'") from None
        raise
    main()
    return 0
