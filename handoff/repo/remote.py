"""Remote URLs, parsed once: credentials, query and fragment stripped; host and `owner/repo` slug.

Also which remote Devin will clone: the branch's upstream remote, else `origin`, else the only remote.
Pure functions on strings and config values: no git runs here (`inspector.py` reads the config).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from handoff.lazy_regex import lazy_compile

_SCHEME_URL = lazy_compile(r"^(?P<scheme>[A-Za-z][A-Za-z0-9+.\-]*)://(?P<rest>.*)$", re.DOTALL)
_SCP_URL = lazy_compile(r"^(?:(?P<user>[^@/]+)@)?(?P<host>[^:/]+):(?P<path>.*)$", re.DOTALL)
_NETWORK_SCHEMES = {"http", "https", "ssh", "git", "git+ssh", "ssh+git", "ftp", "ftps"}
_SSH_SCHEMES = {"ssh", "git+ssh", "ssh+git"}
_AZURE_SSH_HOSTS = ("ssh.dev.azure.com", "vs-ssh.visualstudio.com")


def strip_credentials(url: str) -> str:
    """The URL without anything secret-shaped: no `user:password@` (an ssh login name such as `git@`
    stays), no `?query` and no `#fragment` (`?access_token=…`, `#token` are credentials too).

    Local paths are returned as they are.
    """
    match = _SCHEME_URL.match(url)
    if not match:
        scp = _SCP_URL.match(url)
        if scp and len(scp["host"]) > 1:  # scp-like `user@host:path`; `C:\\x` is a drive path
            user = (scp["user"] or "").split(":", 1)[0]
            return f"{user + '@' if user else ''}{scp['host']}:{_cut_query(scp['path'])}"
        return url
    scheme, rest = match["scheme"], match["rest"]
    authority, sep, tail = _split_authority(rest)
    if scheme.lower() == "file":
        return url
    tail = _cut_query(tail) if sep == "/" else ""
    sep = "/" if sep == "/" else ""
    if "@" not in authority:
        return f"{scheme}://{authority}{sep}{tail}"
    userinfo, _, hostport = authority.rpartition("@")
    if scheme.lower() in _SSH_SCHEMES:
        login = userinfo.split(":", 1)[0]
        return f"{scheme}://{login + '@' if login else ''}{hostport}{sep}{tail}"
    return f"{scheme}://{hostport}{sep}{tail}"


def _cut_query(path: str) -> str:
    return re.split(r"[?#]", path, maxsplit=1)[0]


def _split_authority(rest: str) -> tuple[str, str, str]:
    """`user@host:port/path?q` -> ('user@host:port', '/', 'path?q')."""
    for index, char in enumerate(rest):
        if char in "/?#":
            return rest[:index], char, rest[index + 1:]
    return rest, "", ""


_URL_USERINFO = lazy_compile(r"(?i)\b([a-z][a-z0-9+.\-]*://)[^/\s@]+@")
_URL_QUERY = lazy_compile(r"(?i)(\b[a-z][a-z0-9+.\-]*://[^\s?#'\"]*)[?#][^\s'\"]*")


def scrub_urls(text: str) -> str:
    """A message with every URL's userinfo, query and fragment removed (for git's error lines)."""
    return _URL_QUERY.sub(r"\1", _URL_USERINFO.sub(r"\1", text))


def parse_remote_url(url: str) -> tuple[str | None, str | None]:
    """(host, slug) of a clone URL; (None, None) for local paths and file:// URLs.

    Slugs: `owner/repo`, GitLab `group/sub/repo`, Azure DevOps `org/project/repo`.
    """
    url = url.strip()
    match = _SCHEME_URL.match(url)
    if match:
        if match["scheme"].lower() not in _NETWORK_SCHEMES:
            return None, None
        authority, _, tail = _split_authority(match["rest"])
        host = _hostname(authority.rpartition("@")[2])
        return (host or None), _slug(host, _cut_query(tail))
    scp = _SCP_URL.match(url)
    if scp and len(scp["host"]) > 1 and "/" not in url.split(":", 1)[0]:
        host = scp["host"].lower()
        return host, _slug(host, _cut_query(scp["path"]))
    return None, None  # a local path (or C:\ style drive path)


def remote_slug(url: str) -> tuple[str | None, str | None]:
    """(host, slug) like parse_remote_url; kept under the name pickup used."""
    return parse_remote_url(url)


def _hostname(hostport: str) -> str:
    if hostport.startswith("["):  # [::1]:22
        return hostport[1:].split("]", 1)[0].lower()
    return hostport.split(":", 1)[0].lower()


def _slug(host: str, path: str) -> str | None:
    parts = [part for part in path.strip().strip("/").split("/") if part and part != "~"]
    if parts and parts[-1].endswith(".git"):
        parts[-1] = parts[-1][:-4]
    parts = _azure_parts(host, [part for part in parts if part])
    return "/".join(parts) if len(parts) >= 2 else None


def _azure_parts(host: str, parts: list[str]) -> list[str]:
    """Azure DevOps: https://dev.azure.com/org/project/_git/repo, org@vs-ssh.visualstudio.com:v3/org/project/repo,
    https://org.visualstudio.com/[DefaultCollection/]project/_git/repo -> [org, project, repo]."""
    if host in _AZURE_SSH_HOSTS and parts[:1] == ["v3"]:
        return parts[1:]
    if "_git" in parts:
        at = parts.index("_git")
        before, after = parts[:at], parts[at + 1:at + 2]
        if host.endswith(".visualstudio.com"):
            before = [host.split(".", 1)[0], *[p for p in before if p.lower() != "defaultcollection"]]
        return [*before, *after]
    return parts


# ---------------------------------------------------------------------------------------------
# Which remote Devin clones


@dataclass(frozen=True)
class RemoteChoice:
    name: str | None
    why: str                 # "upstream" | "origin" | "only remote" | "none" | "ambiguous"


def choose_remote(urls: dict[str, str], branch_remote: str | None) -> RemoteChoice:
    """The branch's upstream remote, else `origin`, else the only remote."""
    if branch_remote and branch_remote in urls:
        return RemoteChoice(branch_remote, "upstream")
    if "origin" in urls:
        return RemoteChoice("origin", "origin")
    if len(urls) == 1:
        return RemoteChoice(next(iter(urls)), "only remote")
    return RemoteChoice(None, "none" if not urls else "ambiguous")
