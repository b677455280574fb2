"""The bundle end to end through the CLI and the simulator: Devin downloads the attachment, clones the remote at
the base, fetches the bundle, checks out the snapshot and finds the user's working tree bit for bit; the gate
blocks before any upload; dry run, budget, --no-bundle, fan-out and the outbox."""

from __future__ import annotations

import json
import random
import re
import string
from pathlib import Path

import httpx
import pytest
from helpers import GIT_ENV, git, run_cli_here, write
from test_repo_bundle import private_state, tree_state

from handoff.simulator import Simulator

KEYS = {"v3": "cog_" + "b" * 8, "v1": "apk_" + "b" * 8}
SLUG_URL = "https://github.com/acme/widgets.git"
BIG_LINE = b"0123456789 the five megabyte text file line\n"


@pytest.fixture(autouse=True)
def _git_identity(monkeypatch):
    for name, value in GIT_ENV.items():
        monkeypatch.setenv(name, value)


@pytest.fixture
def sim():
    with Simulator(step_seconds=0.03) as simulator:
        yield simulator


def aws_key() -> str:
    """A key-shaped value made at test time (never committed)."""
    return "AKIA" + "".join(random.choices(string.ascii_uppercase + string.digits, k=16))


def env_for(sim: Simulator, kind: str, tmp_path: Path) -> dict[str, str]:
    env = {"DEVIN_API_URL": sim.base_url, "DEVIN_API_KEY": KEYS[kind], "XDG_STATE_HOME": str(tmp_path / "state")}
    if kind == "v3":
        env["DEVIN_ORG_ID"] = "org-sim"
    return env


def pushed_repo(tmp_path: Path, files: dict[str, str | bytes] | None = None) -> tuple[Path, Path]:
    """A checkout whose `origin` is acme/widgets on GitHub, served from a local bare repository."""
    origin = tmp_path / "origin.git"
    git(tmp_path, "init", "-q", "--bare", "-b", "main", str(origin))
    user = tmp_path / "user"
    git(tmp_path, "init", "-q", "-b", "main", str(user))
    git(user, "config", "commit.gpgsign", "false")
    write(user, files or {"a.txt": "alpha\n"})
    git(user, "add", "-A")
    git(user, "commit", "-q", "-m", "initial")
    git(user, "remote", "add", "origin", SLUG_URL)
    git(user, "config", f"url.{origin}.insteadOf", SLUG_URL)
    git(user, "push", "-q", "-u", "origin", "main")
    return user, origin


def commit(root: Path, files: dict[str, str | bytes], subject: str, *remove: str) -> None:
    write(root, files)
    for name in remove:
        (root / name).unlink()
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", subject, "-m", f"body of {subject}")


EMPTY_BLOB = "e69de29bb2d1d6434b8b29ae775ad8c2e48c5391"  # pragma: allowlist secret (git's empty blob)


def user_state(root: Path) -> dict:
    """The index, refs, reflogs and status (test_repo_bundle.private_state), and the loose objects other than the
    empty blob (which the inspector's intent-to-add scratch index may write; no content of the user's)."""
    state = private_state(root)
    del state["objects"]
    objects = root / ".git" / "objects"
    loose = (p.parent.name + p.name for p in objects.glob("??/*"))
    state["loose"] = sorted(name for name in loose if name != EMPTY_BLOB)
    return state


def uploads(sim: Simulator) -> list[dict]:
    return [r for r in sim.requests if r["call"] == "upload"]


def creates(sim: Simulator) -> list[dict]:
    return [r for r in sim.requests if r["call"] == "create"]


def play_devin(tmp_path: Path, origin: Path, prompt: str, url: str, name: str = "devin") -> Path:
    """What the prompt tells Devin to do: clone at the base, fetch the bundle, check out, verify the tree."""
    base = re.search(r"git checkout --detach ([0-9a-f]{40})", prompt).group(1)
    tree = re.search(r"HEAD\^\{tree\}` must print `([0-9a-f]{40})`", prompt).group(1)
    bundle = tmp_path / f"{name}.bundle"
    bundle.write_bytes(httpx.get(url).content)
    devin = tmp_path / name
    git(tmp_path, "clone", "-q", SLUG_URL, str(devin), "-c", f"url.{origin}.insteadOf={SLUG_URL}")
    git(devin, "checkout", "-q", "--detach", base)
    git(devin, "bundle", "verify", "-q", str(bundle))
    git(devin, "fetch", "-q", str(bundle), "refs/heads/handoff-snapshot")
    git(devin, "checkout", "-q", "-B", "main", "FETCH_HEAD")
    assert git(devin, "rev-parse", "HEAD^{tree}").strip() == tree
    return devin


def test_devin_rebuilds_the_exact_state_from_the_uploaded_bundle(sim, tmp_path):
    user, origin = pushed_repo(tmp_path, {"a.txt": "alpha\n", "old.txt": "to be renamed\n" * 20,
                                          "gone.txt": "bye\n", "script.sh": "echo\n", "logo.bin": bytes(range(256)) * 4,
                                          ".gitignore": "*.log\n"})
    commit(user, {"first.txt": "first\n"}, "feat: first unpushed")
    commit(user, {"second.txt": "second\n", "image.png": b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 64},
           "feat: second unpushed")
    write(user, {"a.txt": "alpha\nbeta\n", "logo.bin": bytes(range(255, -1, -1)) * 8})
    git(user, "add", "a.txt")
    write(user, {"a.txt": "alpha\nbeta\ngamma\n", "latin1.txt": "caf\xe9\n".encode("latin-1")})
    (user / "gone.txt").unlink()
    git(user, "mv", "old.txt", "new.txt")
    (user / "script.sh").chmod(0o755)
    write(user, {"big.txt": BIG_LINE * (5_000_000 // len(BIG_LINE) + 1), "blob.dat": b"\0\1\2" * 1000,
                 "debug.log": "ignored\n"})
    before = user_state(user)

    result = run_cli_here("create", "--task", "Finish the feature", "--detach", "--json", cwd=user,
                          env=env_for(sim, "v3", tmp_path))

    assert result.code == 0, result.stderr
    assert user_state(user) == before
    [upload] = uploads(sim)
    assert upload["path"] == "/v3/organizations/org-sim/attachments"
    [attachment] = sim.attachments.values()
    [create] = creates(sim)
    body = create["body"]
    assert body["attachment_urls"] == [attachment["url"]]
    assert f'\nATTACHMENT:"{attachment["url"]}"\n' in body["prompt"]
    devin = play_devin(tmp_path, origin, body["prompt"], attachment["url"])
    assert tree_state(devin) == {k: v for k, v in tree_state(user).items() if k != "debug.log"}
    messages = git(devin, "log", "--format=%B%x00", "HEAD~3..HEAD~1").split("\0")
    assert [m.strip() for m in messages if m.strip()] == [f"feat: {n} unpushed\n\nbody of feat: {n} unpushed"
                                                          for n in ("second", "first")]
    assert git(devin, "rev-parse", "HEAD~1").strip() == git(user, "rev-parse", "HEAD").strip()


def test_v1_references_the_bundle_in_the_prompt_only(sim, tmp_path):
    user, origin = pushed_repo(tmp_path)
    write(user, {"photo.jpg": b"\xff\xd8\xff\xe0" + bytes(range(256)) * 8})
    result = run_cli_here("create", "--task", "Use the photo", "--detach", cwd=user, env=env_for(sim, "v1", tmp_path))
    assert result.code == 0, result.stderr
    [upload] = uploads(sim)
    assert upload["path"] == "/v1/attachments" and upload["body"]["files"]["file"]["filename"] == "handoff.bundle"
    [attachment] = sim.attachments.values()
    body = creates(sim)[0]["body"]
    assert "attachment_urls" not in body and f'ATTACHMENT:"{attachment["url"]}"' in body["prompt"].splitlines()
    devin = play_devin(tmp_path, origin, body["prompt"], attachment["url"])
    assert (devin / "photo.jpg").read_bytes() == (user / "photo.jpg").read_bytes()


def _secret_past_the_text_budget(user: Path, key: str) -> None:
    write(user, {"notes.txt": "filler line of text\n" * 8000 + f"aws_access_key_id = {key}\n"})


def _secret_in_a_commit_removed_later(user: Path, key: str) -> None:
    commit(user, {"config.py": f'AWS_KEY = "{key}"\n'}, "add config")
    commit(user, {"config.py": "AWS_KEY = None\n"}, "remove the key again")


def _keystore(user: Path, key: str) -> None:
    write(user, {"vault.kdbx": b"\x03\xd9\xa2\x9a\x67\xfb\x4b\xb5" + bytes(range(256)) * 4})


def _jks_by_type(user: Path, key: str) -> None:
    write(user, {"data.bin": b"\xfe\xed\xfe\xed\x00\x00\x00\x02" + bytes(range(256)) * 4})


def _key_inside_a_binary(user: Path, key: str) -> None:
    write(user, {"app.db": b"\0\0SQLite" + bytes(range(256)) + f"\0aws_secret = {key}\0".encode() + b"\0" * 64})


def _text_marked_binary(user: Path, key: str) -> None:
    # `binary` makes git diff say "Binary files differ": the gate reads the blob itself
    write(user, {".gitattributes": "*.cfg binary\n", "deploy.cfg": f"aws_access_key_id = {key}\n"})


@pytest.mark.parametrize("plant", [_secret_past_the_text_budget, _secret_in_a_commit_removed_later, _keystore,
                                   _jks_by_type, _key_inside_a_binary, _text_marked_binary])
def test_the_gate_blocks_the_bundle_before_any_upload(sim, tmp_path, plant):
    user, _ = pushed_repo(tmp_path)
    key = aws_key()
    plant(user, key)
    result = run_cli_here("create", "--task", "Go", "--detach", "--redact", cwd=user, env=env_for(sim, "v3", tmp_path))
    assert result.code == 3, result.stderr
    assert "bundle" in result.stderr and key not in result.stderr + result.stdout
    assert not uploads(sim) and not sim.attachments and not creates(sim) and not sim.sessions
    assert not list((tmp_path / "state").rglob("*.bundle"))


def test_dry_run_shows_and_saves_the_bundle_and_sends_nothing(sim, tmp_path):
    user, _ = pushed_repo(tmp_path)
    commit(user, {"b.txt": "b\n"}, "feat: b")
    write(user, {"c.bin": b"\0" * 100})
    saved = tmp_path / "out.bundle"
    result = run_cli_here("create", "--task", "Go", "--dry-run", "--save-bundle", str(saved), cwd=user,
                          env=env_for(sim, "v3", tmp_path))
    assert result.code == 0, result.stderr
    tree = re.search(r"tree ([0-9a-f]{40})", result.stderr).group(1)
    assert "feat: b" in result.stderr and "bytes, 1 commit(s) + snapshot" in result.stderr
    assert git(user, "bundle", "list-heads", str(saved)).split()[1] == "refs/heads/handoff-snapshot"
    assert not sim.requests
    as_json = run_cli_here("create", "--task", "Go", "--dry-run", "--json", cwd=user, env=env_for(sim, "v3", tmp_path))
    prompt = json.loads(as_json.stdout)["prompt"]
    assert 'ATTACHMENT:"<the bundle\'s URL, filled in when it is uploaded>"' in prompt and tree in prompt


def test_no_bundle_keeps_the_text_handoff_and_bundle_forces_one(sim, tmp_path):
    user, _ = pushed_repo(tmp_path)
    write(user, {"c.bin": b"\0" * 100, "a.txt": "changed\n"})
    off = run_cli_here("create", "--task", "Go", "--detach", "--no-bundle", cwd=user, env=env_for(sim, "v3", tmp_path))
    assert off.code == 0, off.stderr
    assert not uploads(sim) and "ATTACHMENT:" not in creates(sim)[0]["body"]["prompt"]
    git(user, "checkout", "-q", "--", "a.txt")
    (user / "c.bin").unlink()
    clean = run_cli_here("create", "--task", "Go", "--dry-run", cwd=user, env=env_for(sim, "v3", tmp_path))
    assert "bundle:" not in clean.stderr   # nothing the patch cannot carry: no bundle by default
    forced = run_cli_here("create", "--task", "Go", "--dry-run", "--bundle", cwd=user, env=env_for(sim, "v3", tmp_path))
    assert "0 commit(s) + snapshot" in forced.stderr and "asked for with --bundle" in forced.stderr


def test_past_the_budget_the_largest_files_are_left_out_and_named(sim, tmp_path):
    user, origin = pushed_repo(tmp_path)
    write(user, {"huge.bin": random.randbytes(300_000), "small.bin": b"\0small", "a.txt": "edited\n"})
    result = run_cli_here("create", "--task", "Go", "--detach", "--max-bundle-bytes", "100000", cwd=user,
                          env=env_for(sim, "v3", tmp_path))
    assert result.code == 0, result.stderr
    assert "left out of the bundle (size budget): huge.bin" in result.stderr
    [attachment] = sim.attachments.values()
    assert len(attachment["content"]) <= 100_000
    prompt = creates(sim)[0]["body"]["prompt"]
    assert "\nhuge.bin\n" in prompt.split("Left out of the bundle")[1]
    devin = play_devin(tmp_path, origin, prompt, attachment["url"])
    assert (devin / "small.bin").read_bytes() == b"\0small" and not (devin / "huge.bin").exists()


def test_fan_out_shares_one_bundle(sim, tmp_path):
    user, _ = pushed_repo(tmp_path)
    write(user, {"c.bin": b"\0" * 100})
    tasks = tmp_path / "tasks.txt"
    tasks.write_text("Fix the parser\nWrite the docs\n")
    result = run_cli_here("create", "--each", str(tasks), "--detach", cwd=user, env=env_for(sim, "v3", tmp_path))
    assert result.code == 0, result.stderr
    [attachment] = sim.attachments.values()
    assert len(uploads(sim)) == 1 and len(sim.sessions) == 2
    assert all(c["body"]["attachment_urls"] == [attachment["url"]] for c in creates(sim))


def test_a_failed_upload_is_kept_and_retry_uploads_then_creates_once(sim, tmp_path, fake_clock):
    user, origin = pushed_repo(tmp_path)
    write(user, {"c.bin": b"\0" * 100})
    env = env_for(sim, "v3", tmp_path)
    sim.inject("upload", "503", times=100)
    result = run_cli_here("create", "--task", "Go", "--detach", cwd=user, env=env)
    assert result.code == 5, result.stderr
    assert not sim.sessions and not sim.attachments and "devin-handoff retry" in result.stderr
    [kept] = list((tmp_path / "state").rglob("*.bundle"))
    sim.clear_faults()
    sent = run_cli_here("retry", "--json", cwd=user, env=env)
    assert sent.code == 0, sent.stderr
    [attachment] = sim.attachments.values()
    [session] = sim.sessions.values()
    assert session["body"]["attachment_urls"] == [attachment["url"]] and not kept.exists()
    assert (play_devin(tmp_path, origin, session["prompt"], attachment["url"]) / "c.bin").read_bytes() == b"\0" * 100



def test_a_saved_handoff_whose_bundle_is_gone_fails_alone_and_the_others_are_sent(sim, tmp_path, fake_clock):
    user, _ = pushed_repo(tmp_path)
    write(user, {"c.bin": b"\0" * 100})
    env = env_for(sim, "v3", tmp_path)
    sim.inject("upload", "503", times=100)
    assert run_cli_here("create", "--task", "first", "--detach", cwd=user, env=env).code == 5
    [gone] = list((tmp_path / "state").rglob("*.bundle"))
    gone.unlink()
    sim.inject("create", "503", times=100)
    assert run_cli_here("create", "--task", "second", "--detach", "--no-bundle", cwd=user, env=env).code == 5
    sim.clear_faults()
    done = run_cli_here("retry", "--json", cwd=user, env=env)
    assert done.code == 2 and "bundle is gone" in done.stderr
    result = done.json()
    assert len(result["sent"]) == 1 and len(result["failed"]) == 1
    assert [s["title"] for s in sim.sessions.values()] == ["second"]

def test_mcp_create_sends_the_same_bundle(sim, tmp_path, monkeypatch):
    from handoff.mcp.server import create_handoff

    user, origin = pushed_repo(tmp_path)
    write(user, {"c.bin": b"\0\1" * 50})
    for name, value in env_for(sim, "v3", tmp_path).items():
        monkeypatch.setenv(name, value)
    result = create_handoff("Go", None, None, str(user), False, None, str(user))
    [attachment] = sim.attachments.values()
    [session] = sim.sessions.values()
    assert result.session_id == session["session_id"]
    assert (play_devin(tmp_path, origin, session["prompt"], attachment["url"]) / "c.bin").read_bytes() == b"\0\1" * 50


def test_commits_alone_past_the_budget_send_no_bundle_and_say_so(sim, tmp_path):
    user, _ = pushed_repo(tmp_path)
    commit(user, {"data.bin": random.randbytes(300_000)}, "add data")
    result = run_cli_here("create", "--task", "Go", "--detach", "--max-bundle-bytes", "100000", cwd=user,
                          env=env_for(sim, "v3", tmp_path))
    assert result.code == 0, result.stderr
    assert "no bundle: the unpushed commits alone make" in result.stderr
    assert not uploads(sim) and "ATTACHMENT:" not in creates(sim)[0]["body"]["prompt"]
    assert "no bundle: the unpushed commits alone make" in creates(sim)[0]["body"]["prompt"]   # Devin is told too


def test_a_history_the_remote_lacks_is_refused_without_a_bundle_and_carried_whole_with_one(sim, tmp_path):
    origin = tmp_path / "origin.git"
    git(tmp_path, "init", "-q", "--bare", "-b", "main", str(origin))
    user = tmp_path / "user"
    git(tmp_path, "init", "-q", "-b", "main", str(user))
    git(user, "config", "commit.gpgsign", "false")
    git(user, "remote", "add", "origin", SLUG_URL)
    git(user, "config", f"url.{origin}.insteadOf", SLUG_URL)
    commit(user, {"a.txt": "alpha\n"}, "feat: never pushed")   # the remote is empty: no base to start from
    env = env_for(sim, "v3", tmp_path)

    refused = run_cli_here("create", "--task", "t", "--detach", "--no-bundle", cwd=user, env=env)
    assert refused.code == 2 and "cannot fetch the starting point" in refused.stderr
    assert not creates(sim) and not uploads(sim)

    sent = run_cli_here("create", "--task", "t", "--detach", "--json", cwd=user, env=env)
    assert sent.code == 0, sent.stderr
    [attachment] = sim.attachments.values()
    clone = tmp_path / "devin"
    bundle = tmp_path / "whole.bundle"
    bundle.write_bytes(httpx.get(attachment["url"]).content)
    git(tmp_path, "clone", "-q", str(bundle), str(clone))   # no prerequisite: the bundle is the whole history
    git(clone, "checkout", "-q", "--detach", "origin/handoff-snapshot")
    assert tree_state(clone) == tree_state(user)


@pytest.mark.parametrize("plant", [_secret_in_a_commit_removed_later, _keystore, _key_inside_a_binary])
def test_scan_judges_what_the_bundle_carries_like_create(tmp_path, plant):
    user, _ = pushed_repo(tmp_path)
    key = aws_key()
    plant(user, key)
    found = run_cli_here("scan", "--json", cwd=user, env={"XDG_STATE_HOME": str(tmp_path / "state")})
    assert found.code == 3, found.stderr
    assert any(f["file"].startswith("bundle") for f in found.json()["findings"])
    assert key not in found.stdout + found.stderr
    text_only = run_cli_here("scan", "--no-bundle", cwd=user, env={"XDG_STATE_HOME": str(tmp_path / "state")})
    assert text_only.code in (0, 3)   # the text patch alone may or may not hold the secret; no bundle is judged
    assert "bundle" not in text_only.stderr
