"""`scan`: the secret gate on exactly what `create` would send. No key, no network."""

from __future__ import annotations

import click

from handoff.app.handoff import prepare
from handoff.app.settings import load_settings
from handoff.cli.commands.create import handoff_options
from handoff.cli.options import content_options, json_option, read_texts
from handoff.cli.render import Output, findings_json, show_findings
from handoff.errors import EXIT_SECRETS


@click.command()
@content_options
@json_option
def scan(task: str | None, context: str | None, context_file: str | None, tags: tuple[str, ...], redact: bool,
         no_untracked: bool, max_diff_bytes: int, max_prompt_bytes: int, bundle: bool | None, max_bundle_bytes: int,
         json_mode: bool) -> int:
    """Run the secret gate on exactly what `create` would send. No key, no network.

    Exit 0 when nothing is found, 3 when something would block a handoff.
    """
    out = Output(json_mode)
    options = handoff_options(load_settings(), tags=tags, redact=False, no_untracked=no_untracked,
                              max_diff_bytes=max_diff_bytes, max_prompt_bytes=max_prompt_bytes, bundle=bundle,
                              max_bundle_bytes=max_bundle_bytes)
    task, context_text = read_texts(task, context, context_file)
    prepared = prepare(task or "(scan)", context_text, options)
    report = prepared.gate.report
    if json_mode:
        out.json(findings_json(report))
    if report.findings:
        show_findings(report, out, f"Secrets found in what would be sent ({len(report.findings)}):")
        return EXIT_SECRETS
    files = len(prepared.repo.files) if prepared.repo else 0
    out.say(f"no secrets found ({report.scanned_bytes} bytes scanned, {files} changed file(s),"
            f" {report.allowed} allowed by baseline or pragma)", "green")
    return 0
