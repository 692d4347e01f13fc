"""Progress of long work: a bar on a terminal, throttled plain lines in a log, or nothing."""

from __future__ import annotations

import io

import pytest

from trainguard.progress import Progress

pytestmark = pytest.mark.unit


def run_phases(progress: Progress) -> None:
    progress.phase("reading and checking the dataset")
    progress.phase("scanning 12,000 records", total=40, unit="shards")
    for _ in range(40):
        progress.advance()
    progress.note("annotations written to out.parquet")
    progress.finish()


def test_a_log_gets_a_line_per_finished_phase_not_one_per_shard() -> None:
    stream = io.StringIO()
    run_phases(Progress(stream=stream, terminal=False, interval=3600, phases=3))
    lines = stream.getvalue().splitlines()
    assert lines[0] == "[1/3] reading and checking the dataset: done in 0:00"
    assert lines[1] == "annotations written to out.parquet"
    assert lines[2] == "[2/3] scanning 12,000 records: 40/40 shards, done in 0:00"
    assert len(lines) == 3
    assert "\r" not in stream.getvalue() and "\x1b" not in stream.getvalue()


def test_a_long_phase_reports_every_interval_with_the_time_left() -> None:
    stream = io.StringIO()
    progress = Progress(stream=stream, terminal=False, interval=0, phases=2)
    progress.phase("scanning", total=4, unit="shards")
    progress.advance()
    assert stream.getvalue().startswith("[1/2] scanning: 1/4 shards (25%")
    assert "left)" in stream.getvalue()


def test_a_failure_in_the_first_phase_leaves_the_error_line_alone() -> None:
    stream = io.StringIO()
    progress = Progress(stream=stream, terminal=False, interval=3600)
    progress.phase("reading and checking the dataset")
    # ... the contract check raises here; the CLI prints its one error line
    assert stream.getvalue() == ""


def test_a_terminal_gets_one_redrawn_line_with_a_bar_and_the_time_left() -> None:
    stream = io.StringIO()
    progress = Progress(stream=stream, terminal=True, phases=3)
    progress.phase("scanning", total=4, unit="shards")
    progress.advance()
    drawn = stream.getvalue()
    assert "\r\x1b[K[1/3] scanning  [######" in drawn and "1/4 shards (25%" in drawn
    assert "left)" in drawn
    progress.advance(3)
    progress.finish()
    assert stream.getvalue().endswith("4/4 shards (100%)\n")


def test_quiet_prints_nothing_and_a_callback_gets_plain_lines() -> None:
    stream = io.StringIO()
    run_phases(Progress(stream=stream, quiet=True, terminal=True))
    assert stream.getvalue() == ""
    seen: list[str] = []
    run_phases(Progress.lines_to(seen.append))
    assert seen[0] == "[1] reading and checking the dataset: done in 0:00"
    assert "40/40 shards, done in" in seen[2]
    run_phases(Progress.lines_to(None))  # no callback: silent, no error
