"""The console script's own usage errors are one line, like every other error (issue 7's promise).

Before, click's parser errors (a value not among the choices, an unknown option or command, a
missing argument) printed a usage line, a hint and a boxed panel on stderr. ``cli.main`` runs
the app with ``standalone_mode=False`` and turns them into ``error: …`` and exit 2, while a
command's own exit codes (``diff``'s 1) and ``--help``/``--version`` pass through.
"""

from __future__ import annotations

import pytest

from resnet_inspect import cli


def run_main(monkeypatch, capsys, *args: str) -> tuple[int, str, str]:
    monkeypatch.setattr("sys.argv", ["resnet-inspect", *args])
    with pytest.raises(SystemExit) as info:
        cli.main()
    captured = capsys.readouterr()
    return info.value.code, captured.out, captured.err


@pytest.mark.parametrize("args, named", [
    (["trace", "--names", "bogus"], "'--names': 'bogus' is not one of"),
    (["weights", "check", "resnet50", "w.npz", "--keras-layout", "keras2"], "'--keras-layout': 'keras2'"),
    (["tracee"], "No such command 'tracee'"),
    (["weights", "check"], "Missing argument"),
    (["trace", "--bogus"], "No such option: --bogus"),
    (["flops", "--input"], "'--input' requires an argument"),
])
def test_usage_errors_are_one_line_and_exit_2(monkeypatch, capsys, args, named):
    code, out, err = run_main(monkeypatch, capsys, *args)
    assert code == 2 and out == ""
    assert err.startswith("error: ") and named in err and err.count("\n") == 1
    assert "--help`)" in err  # says where to look


def test_exit_codes_and_output_pass_through(monkeypatch, capsys):
    assert run_main(monkeypatch, capsys, "--version")[:2] == (0, f"resnet-inspect {cli_version()}\n")
    code, out, _ = run_main(monkeypatch, capsys, "trace", "resnet18", "--format", "csv")
    assert code == 0 and out.startswith("name,op,")
    assert run_main(monkeypatch, capsys, "diff", "resnet50", "resnet18")[0] == 1  # they differ
    code, _, err = run_main(monkeypatch, capsys, "trace", "resnet50", "--input", "100")
    assert code == 2 and err.startswith("error: ") and err.count("\n") == 1
    code, out, err = run_main(monkeypatch, capsys)  # no arguments: the help, as before
    assert code == 2 and "Usage" in out and err == ""


def cli_version() -> str:
    from resnet_inspect._version import __version__

    return __version__
