"""The durability matrix: interruptions, persistent faults, concurrency and state-file faults, what a handoff
ends as under each, and the test that proves it. The README carries it (bench/fault_table.py prints it;
tests/test_outbox.py checks the README's copy and that every named test exists)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Row:
    situation: str
    outcome: str
    proof: tuple[str, ...]   # "file.py::test_name" in tests/


ROWS: tuple[Row, ...] = (
    Row("Ctrl-C, SIGTERM or SIGHUP during the create request (of `create` or `retry`)",
        "exit 130 with `resume with: devin-handoff retry <tag>`; the handoff stays in the outbox; `retry` finds the "
        "session by tag → 1 session",
        ("test_interruptions.py::test_a_signal_during_the_create_request_keeps_the_handoff_and_prints_the_resume_command",
         "test_launch.py::test_ctrl_c_while_sending_prints_the_retry_command_and_keeps_the_handoff",
         "test_outbox.py::test_ctrl_c_during_retry_keeps_the_handoff_with_a_window_and_prints_the_resume_command")),
    Row("Ctrl-C before the handoff is saved (inspection, gate)",
        "exit 130, `interrupted before anything was sent`; nothing reached the API",
        ("test_launch.py::test_ctrl_c_before_anything_is_saved_says_nothing_was_sent",)),
    Row("kill -9 at random points of `create` (32 runs)",
        "every create that reached the API has a journal or outbox entry; after `retry`, 1 session per handoff",
        ("test_interruptions.py::test_kill_9_at_random_points_of_create_never_loses_or_doubles_a_handoff",)),
    Row("kill -9 at random points of `retry` (32 runs)",
        "each handoff stays in the outbox or is journalled; after `retry`, 1 session per handoff",
        ("test_interruptions.py::test_kill_9_at_random_points_of_retry_never_loses_or_doubles_a_handoff",)),
    Row("10 × `retry` at once on one outbox",
        "each handoff sent by one process (per-handoff lock); the others skip it with a note → 1 session each",
        ("test_interruptions.py::test_ten_retries_at_once_send_each_handoff_exactly_once",
         "test_outbox.py::test_a_handoff_locked_by_another_process_is_skipped_with_a_note")),
    Row("`retry` while an earlier attempt may still land",
        "looked up by tag until its in-flight window passes, never resent meanwhile; adopted if it lands, else "
        "sent once",
        ("test_outbox.py::test_retry_never_resends_while_an_earlier_attempt_may_land_then_sends_once",
         "test_outbox.py::test_an_earlier_attempt_landing_during_the_window_is_adopted_not_duplicated",
         "test_outbox.py::test_a_failed_lookup_proves_nothing_and_keeps_the_window")),
    Row("API down for the whole create",
        "exit 5, kept in the outbox; `retry` looks the tag up, then sends it once",
        ("test_launch.py::test_unreachable_api_saves_the_handoff_and_retry_sends_it_once",)),
    Row("follow fails after the session was created",
        "the session URL and `devin-handoff tail <id>`; never `saved for retry`",
        ("test_launch.py::test_a_follow_that_fails_after_the_create_names_the_session_and_never_says_saved",)),
    Row("unwritable state dir",
        "exit 4 naming the path, before the create request",
        ("test_interruptions.py::test_an_unwritable_state_dir_refuses_before_the_post",
         "test_outbox.py::test_an_unwritable_state_dir_is_exit_4_naming_the_path_and_nothing_is_sent")),
    Row("full disk (ENOSPC) before the create",
        "exit 4 naming the path; nothing sent, no temp file left",
        ("test_outbox.py::test_a_full_disk_refuses_before_anything_is_sent",)),
    Row("full disk after the create",
        "the session is followed; a warning names its URL; it stays in the outbox and `retry` journals it "
        "without sending it again",
        ("test_outbox.py::test_a_disk_that_fills_after_the_create_keeps_the_handoff_and_retry_journals_it",
         "test_outbox.py::test_a_journal_update_on_a_full_disk_is_a_notice_not_a_crash")),
    Row("truncated or wrong-shaped state file",
        "reported once with its path and moved aside as `*.corrupt`; never a crash, never silent",
        ("test_outbox.py::test_a_truncated_outbox_file_is_reported_once_and_moved_aside",
         "test_outbox.py::test_an_outbox_file_of_the_wrong_shape_is_moved_aside")),
    Row("odd field types (`created_at` as a string, an integer cursor, …)",
        "read as the declared types; an entry without its id or URL is moved aside",
        ("test_outbox.py::test_odd_field_types_are_read_not_crashed_on",)),
    Row("leftover `.tmp-*` files",
        "never read as entries; removed once an hour old",
        ("test_outbox.py::test_temp_files_are_never_entries_and_stale_ones_are_cleaned_up",)),
    Row("stdout closed, or full, under `create --json`",
        "closed: runs, the session is journalled and its URL shown on stderr; full: exit 2 naming the session, "
        "which is journalled",
        ("test_interruptions.py::test_create_json_with_stdout_closed_still_journals_the_session",
         "test_interruptions.py::test_create_json_with_a_full_stdout_keeps_the_session_and_names_it")),
)


def markdown_table() -> str:
    lines = ["| situation | what the handoff ends as | proof (tests/) |", "|---|---|---|"]
    for row in ROWS:
        proof = "<br>".join(f"`{name.split('::')[1]}`" for name in row.proof)
        lines.append(f"| {row.situation} | {row.outcome} | {proof} |")
    return "\n".join(lines)
