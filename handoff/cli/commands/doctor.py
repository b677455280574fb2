"""`doctor`: check git, the key's kind, the org id and API reachability. Never prints the key."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import click

from handoff.app.settings import load_settings
from handoff.cli.options import api_options, json_option
from handoff.cli.render import Output
from handoff.config import Settings
from handoff.errors import EXIT_CONFIG, EXIT_UNREACHABLE, HandoffError, mask_key

DOCTOR_RETRY_BUDGET = 3.0  # a reachability check should answer quickly
# Where a key comes from (docs.devin.ai/api-reference/authentication): a service user's key is `cog_…`;
# the legacy API-keys page only makes `apk_…` keys for the v1 API.
GET_A_KEY = ("get a key: in the Devin web app open Settings > Service users, create a service user and an API "
             "key for it (cog_…, shown once); the org id (org-…) is shown in Settings > Devin API")


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str
    exit_code: int = 0  # what a failure of this check means

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "ok": self.ok, "detail": self.detail}


def _check_git() -> Check:
    from handoff import repo

    version = repo.git_version()
    if version is None:
        return Check("git", False, "git not found or does not run (install git)", EXIT_CONFIG)
    return Check("git", True, f"git version {version}", EXIT_CONFIG)


def _check_key(settings: Settings) -> Check:
    kind = mask_key(settings.api_key)
    try:
        settings.require_key()
    except HandoffError as exc:
        return Check("key", False, f"{kind}: {exc}", EXIT_CONFIG)
    return Check("key", True, f"{kind} set (API {settings.api_version})")


def _check_api(settings: Settings) -> list[Check]:
    """A cheap authenticated call; where the API works inside an organization, its id and one read in it."""
    from handoff.app.launch import open_client
    from handoff.devin.errors import UnreachableError

    checks: list[Check] = []
    where = settings.api_url
    step = "api"  # which check a failure belongs to: the key check first, then the org
    try:
        with open_client(settings, retry_budget=DOCTOR_RETRY_BUDGET) as client:
            info = client.self_info() or {}
            if client.in_organization:
                step = "org"
                org = settings.org_id or info.get("org_id")
                if not org:
                    return [Check("org", False, "no org id: set DEVIN_ORG_ID (or --org-id)", EXIT_CONFIG)]
                source = "from settings" if settings.org_id else "resolved via /v3/self"
                client.list_sessions(tag=None, limit=1)  # can this key read sessions in that org?
                checks.append(Check("org", True, f"{org} ({source})"))
            else:
                checks.append(Check("org", True, f"not needed ({client.version} key)"))
    except UnreachableError as exc:
        return [*checks, Check("api", False, f"{where} unreachable: {exc}", EXIT_UNREACHABLE)]
    except HandoffError as exc:
        return [*checks, Check(step, False, str(exc), EXIT_CONFIG)]
    checks.append(Check("api", True, f"{where} answers and accepts the key"))
    return checks


def run_checks(settings: Settings) -> list[Check]:
    checks = [_check_git(), _check_key(settings)]
    if checks[-1].ok:
        checks.extend(_check_api(settings))
    return checks


def exit_code_for(checks: list[Check]) -> int:
    """0 when all pass; 4 for key/org/config problems (they come first), else 5 for an unreachable API."""
    codes = {check.exit_code or EXIT_CONFIG for check in checks if not check.ok}
    if not codes:
        return 0
    return EXIT_UNREACHABLE if codes == {EXIT_UNREACHABLE} else EXIT_CONFIG


@click.command()
@api_options
@json_option
def doctor(api_url: str | None, org_id: str | None, user_id: str | None, json_mode: bool) -> int:
    """Check git, the API key's kind (never its value), the org id and that the API answers.

    Exit 0 when all is well, 4 for a key/org problem, 5 when the API cannot be reached.
    """
    out = Output(json_mode)
    settings = load_settings(api_url=api_url, org_id=org_id, user_id=user_id)
    checks = run_checks(settings)
    code = exit_code_for(checks)
    lines = [f"{'ok  ' if c.ok else 'FAIL'}  {c.name:<4} {c.detail}" for c in checks]
    if any(c.name in ("key", "org") and not c.ok for c in checks):
        lines.append(GET_A_KEY)
    human = "\n".join(lines)
    out.result({"ok": code == 0, "exit_code": code, "api_url": settings.api_url,
                "api_version": settings.api_version if settings.api_key else None,
                "checks": [c.to_json() for c in checks]}, human)
    return code
