"""The MCP server face (`devin-handoff mcp`): the use cases of handoff/app/ as MCP tools (server.py)."""
