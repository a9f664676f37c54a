"""The hostile harness itself catches what it promises to catch (so a green corpus means something)."""

from __future__ import annotations

from pathlib import Path

import pytest

from hostile import SECRET, Case, run_case, run_cli


def test_a_good_bad_input_passes(tmp_path: Path) -> None:
    # A spec path that does not exist: one error line naming it, exit 2.
    outcome = run_case(Case("harness", "missing spec", ["trace", "missing.yaml"], expect=("missing.yaml",)), tmp_path)
    assert outcome.code == 2 and outcome.peak_rss_mb > 5  # a real child's RSS was read, not 0


def test_the_judge_fails_on_a_wrong_exit_code(tmp_path: Path) -> None:
    with pytest.raises(AssertionError, match="exit 0, expected 2"):
        run_case(Case("harness", "not an error", ["list", "--format", "json"]), tmp_path)


def test_the_judge_fails_on_a_leaked_secret(tmp_path: Path) -> None:
    # `schema -o`-like echo is not needed: a spec named after the secret is printed by trace.
    with pytest.raises(AssertionError, match="fragment|secret"):
        run_case(Case("harness", "echoes", ["trace", f"{SECRET}.yaml"], expect=("no such fragment",)), tmp_path)


def test_the_timer_kills_a_hang(tmp_path: Path) -> None:
    # `check -` style stdin reads are not needed: a FIFO opened for reading blocks without a writer.
    with pytest.raises(AssertionError, match="timed out"):
        run_cli(["--help"], tmp_path, timeout=0.001)


def test_peak_rss_is_the_childs_own_not_the_parents(tmp_path: Path) -> None:
    # Linux carries the forking process's RSS into a child's ru_maxrss; with pytest at 300+ MB
    # (after torch is imported, say) every case would measure the parent. The reaper prevents it.
    ballast = bytearray(300 << 20)
    ballast[::4096] = b"x" * len(ballast[::4096])  # touch every page so it is resident
    outcome = run_cli(["--help"], tmp_path)
    assert outcome.code == 0 and 5 < outcome.peak_rss_mb < 200, outcome.peak_rss_mb
    del ballast


def test_a_file_size_limit_makes_writes_fail_in_the_child_only(tmp_path: Path) -> None:
    # RLIMIT_FSIZE in the CLI child (a full disk): resnet50's ~100 MB of weights fail past 1 MB.
    outcome = run_cli(["weights", "init", "resnet50", "-o", "w.npz"], tmp_path, file_size_limit=1 << 20)
    assert outcome.code == 2 and "w.npz: cannot write the weights file: File too large" in outcome.stderr
    assert list(tmp_path.iterdir()) == []  # no partial file left


def test_a_zygote_child_reports_its_own_peak_and_is_killed_at_its_time_limit(tmp_path: Path) -> None:
    # The matrix's forked children (issue 17): a 300 MB allocation shows in the child's peak RSS
    # (so the RSS bound means something there too), an idle one stays small, a hang is killed.
    from hostile import Zygote

    zygote = Zygote()
    try:
        big = zygote.run(Case("harness", "300 MB", [], api=("numpy:ones", (300 << 20,), {"dtype": "uint8"})), tmp_path)
        small = zygote.run(Case("harness", "idle", [], api=("numpy:zeros", (1,), {})), tmp_path)
        assert big.code == 0 and big.peak_rss_mb > 300 and small.peak_rss_mb < 200, (big, small)
        with pytest.raises(AssertionError, match="timed out after 1"):
            zygote.run(Case("harness", "hang", [], time_limit=1, api=("time:sleep", (30,), {})), tmp_path)
        cli = zygote.run(Case("harness", "cli", ["trace", "missing.yaml"]), tmp_path)
        assert cli.code == 2 and cli.stderr.startswith("error: missing.yaml") and "Traceback" not in cli.stderr
    finally:
        zygote.close()
