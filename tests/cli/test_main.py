"""The command line: exit codes, output, and no traceback ever reaching the user."""

import json
import subprocess
import sys

import pytest

from derivcheck.cli import main as cli
from derivcheck.cli import render
from derivcheck.errors import InputError


def run(*argv, stdin=None):
    """The installed console script's behaviour, through ``python -m``."""
    proc = subprocess.run(
        [sys.executable, "-m", "derivcheck", *argv],
        capture_output=True,
        text=True,
        input=stdin,
        timeout=120,
    )
    return proc.returncode, proc.stdout, proc.stderr


def test_true_claim_exits_0(capsys):
    assert cli.main(["claim", "d/dx 3*x^2 = 6*x"]) == 0
    out = capsys.readouterr().out
    assert "proven" in out
    assert "seed" in out


def test_refuted_claim_exits_1_and_shows_a_counterexample(capsys):
    assert cli.main(["claim", "d/dx 3*(2*x^2)^5 = 15*(2*x^2)^4"]) == 1
    out = capsys.readouterr().out
    assert "refuted" in out


def test_claim_json(capsys):
    assert cli.main(["claim", "--json", "d/dx x^3 = 3x^2"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["verdict"] == "proven"


def test_domain_option(capsys):
    assert cli.main(["claim", "--domain", "x=1:10", "d/dx log(x) = 1/x"]) == 0
    capsys.readouterr()


@pytest.mark.parametrize("bad", ["x", "x=1", "x=a:b", "x1:2"])
def test_bad_domain_option(bad, capsys):
    assert cli.main(["claim", "--domain", bad, "d/dx log(x) = 1/x"]) == 2
    assert "VAR=LO:HI" in capsys.readouterr().err


def test_hostile_claim_exits_2_without_running_anything(tmp_path):
    marker = tmp_path / "pwned"
    code, out, err = run("claim", f"d/dx __import__('os').system('touch {marker}') = 0")
    assert code == 2
    assert not marker.exists()
    assert err.startswith("derivcheck: error:")
    assert "Traceback" not in err + out


def test_unparseable_claim_exits_2_with_one_message(capsys):
    assert cli.main(["claim", "d/dx 3*x^2 6*x"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("derivcheck: error:")
    assert "Traceback" not in err


def test_usage_errors_exit_2():
    code, _, err = run("frobnicate")
    assert code == 2
    assert "invalid choice" in err
    code, _, err = run()
    assert code == 2


def test_check_file(tmp_path, capsys):
    rules = tmp_path / "rules.txt"
    rules.write_text(
        "# chapter 7\nd/dx 3x^2 + 5x = 6x + 5   # sum rule\n\nd/dx x^x = x*x^(x-1)\n",
        encoding="utf-8",
    )
    assert cli.main(["check", str(rules)]) == 1
    out = capsys.readouterr().out
    assert "2 claims" in out
    assert "refuted" in out and "proven" in out


def test_check_file_all_ok_exits_0(tmp_path, capsys):
    rules = tmp_path / "rules.txt"
    rules.write_text("d/dx x^2 = 2x\n∂/∂y x*y = x\n", encoding="utf-8")
    assert cli.main(["check", str(rules)]) == 0
    capsys.readouterr()


def test_check_file_with_a_bad_line_reports_it_and_fails(tmp_path, capsys):
    rules = tmp_path / "rules.txt"
    rules.write_text("d/dx x^2 = 2x\nd/dx x^2 +\n", encoding="utf-8")
    assert cli.main(["check", "--json", str(rules)]) == 2  # a line could not be read
    payload = json.loads(capsys.readouterr().out)
    assert payload["ok"] is False
    assert [c.get("error") is not None for c in payload["claims"]] == [False, True]
    assert payload["claims"][1]["line"] == 2


def test_check_missing_or_empty_file(tmp_path, capsys):
    assert cli.main(["check", str(tmp_path / "nope.txt")]) == 2
    assert "cannot read rules file" in capsys.readouterr().err
    empty = tmp_path / "empty.txt"
    empty.write_text("# nothing\n\n", encoding="utf-8")
    assert cli.main(["check", str(empty)]) == 2
    assert "holds no claim" in capsys.readouterr().err


def test_check_reads_standard_input():
    code, out, _ = run("check", "-", stdin="d/dx x^2 = 2x\n")
    assert code == 0
    assert "1 claims" in out


def test_layer_correct_and_broken(capsys):
    assert cli.main(["layer", "derivcheck.examples.book:Layer_Dense", "--args", "4,3"]) == 0
    capsys.readouterr()
    code = cli.main(
        [
            "layer",
            "derivcheck.examples.broken:Loss_MeanAbsoluteError_Book",
            "--labels",
            "real",
            "--shape",
            "4,3",
        ]
    )
    assert code == 1
    assert "dinputs" in capsys.readouterr().out


def test_layer_full_budget_decides_auto_mode(capsys):
    argv = ["layer", "derivcheck.examples.book:Layer_Dense", "--args", "64,32", "--shape", "32,64"]
    assert cli.main([*argv, "--no-progress"]) == 0
    assert "every entry" in capsys.readouterr().out  # about 8 ms: well within 1 s
    assert cli.main([*argv, "--no-progress", "--full-budget", "0"]) == 0
    out = capsys.readouterr().out
    assert "Gaussian probes" in out and "over 0 s" in out


def test_layer_json(capsys):
    code = cli.main(
        ["layer", "--json", "derivcheck.examples.book:Activation_Sigmoid", "--shape", "3,4"]
    )
    assert code == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["ok"] is True


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["layer", "nocolon"], "MODULE:CLASS"),
        (["layer", "derivcheck.examples.book:NoSuchLayer"], "has no attribute 'NoSuchLayer'"),
        (["layer", "no_such_module_xyz:Layer"], "cannot import 'no_such_module_xyz'"),
        (["layer", "missing_file.py:Layer"], "no such file"),
        (["layer", "derivcheck.examples.book:Layer_Dense", "--args", "4,x"], "numbers only"),
        (["layer", "derivcheck.examples.book:Layer_Dense", "--args", "a=1,3"], "positional"),
        (
            ["layer", "derivcheck.examples.book:Layer_Dense", "--args", "4,3", "--shape", "0,4"],
            "positive integers",
        ),
        (
            ["layer", "derivcheck.examples.book:Layer_Dense", "--args", "1,2,3,4,5,6,7,8"],
            "cannot construct",
        ),
        (
            ["layer", "derivcheck.examples.book:Loss_MeanSquaredError"],
            "looks like a loss (its forward takes labels): pass --labels",
        ),
        (  # a usage mistake, not a gradient failure
            ["layer", "derivcheck.examples.book:Layer_Dense", "--args", "4,3", "--shape", "5,7"],
            "forward cannot take inputs of shape (5, 7)",
        ),
        (
            ["layer", "derivcheck.examples.book:Layer_Dense", "--args", "4,3", "--plot", "o.txt"],
            "the file must end in .png, .svg, .pdf",
        ),
        (
            ["layer", "derivcheck.examples.book:Layer_Dense", "--plot", "/no/such/dir/o.png"],
            "no such folder",
        ),
        (  # refused before anything is allocated
            ["layer", "derivcheck.examples.book:Layer_Dense", "--shape", "100000000,4"],
            "the limit is 20,000,000",
        ),
        (
            [
                "layer", "derivcheck.examples.book:Layer_Dense", "--args", "4,3",
                "--full-budget", "-1",
            ],
            "`full_budget` must be a non-negative finite float",
        ),
    ],
)
def test_layer_bad_input_exits_2(argv, message, capsys):
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert message in err
    assert "Traceback" not in err


def test_layer_from_a_file(tmp_path, capsys):
    source = tmp_path / "mylayers.py"
    source.write_text(
        "import numpy as np\n"
        "class Square:\n"
        "    def forward(self, inputs):\n"
        "        self.inputs = inputs\n"
        "        self.output = inputs ** 2\n"
        "    def backward(self, dvalues):\n"
        "        self.dinputs = 2 * self.inputs * dvalues\n",
        encoding="utf-8",
    )
    assert cli.main(["layer", f"{source}:Square", "--shape", "3,2"]) == 0
    capsys.readouterr()


def test_help_is_fast_and_light():
    code, out, _ = run("--help")
    assert code == 0
    assert "claim" in out and "layer" in out and "demo" in out


class _FakeTerminal:
    def __init__(self):
        self.text = ""

    def isatty(self):
        return True

    def write(self, s):
        self.text += s

    def flush(self):
        pass


def test_progress_bar_draws_on_a_terminal_and_clears_at_the_end():
    term = _FakeTerminal()
    bar = render.ProgressBar(enabled=True, stream=term)
    bar.start -= 10  # as if the check had spent 10 s before its first planned evaluation
    bar("dweights", 0, 300)
    assert "... left" in term.text  # no rate yet
    bar.start -= 10  # 10 s later
    bar("dweights", 100, 300)
    assert "checking [########................]  33% dweights" in term.text
    # 100 evaluations in the 10 s since the first report (the 10 s before it are setup,
    # not evaluations): 10 per second, 200 left: 20 s
    assert "10 evals/s" in term.text
    assert "20.0 s left" in term.text
    bar("done", 300, 300)
    assert term.text.endswith("\r" + " " * 100 + "\r")


def test_progress_bar_redraws_at_most_ten_times_a_second():
    term = _FakeTerminal()
    bar = render.ProgressBar(enabled=True, stream=term)
    bar.start -= 10
    for done in range(1, 200):  # a compressed check reports every group, fast
        bar("dweights", done, 1000)
    assert term.text.count("checking [") == 1


def test_progress_bar_is_silent_off_a_terminal_and_for_quick_checks():
    term = _FakeTerminal()
    term.isatty = lambda: False
    bar = render.ProgressBar(enabled=True, stream=term)
    bar.start -= 10
    bar("dweights", 1, 3)
    assert term.text == ""
    quick = _FakeTerminal()
    bar = render.ProgressBar(enabled=True, stream=quick)
    bar("dweights", 1, 3)
    bar("done", 3, 3)
    assert quick.text == ""


def test_check_layer_reports_progress_per_gradient():
    import numpy as np

    from derivcheck.examples import book
    from derivcheck.layers.check import check_layer

    calls = []
    np.random.seed(0)
    x = np.ones((2, 3))
    check_layer(book.Layer_Dense(3, 2), x, progress=lambda *a: calls.append(a))
    # done and total count planned evaluations: two per entry (6, 6 and 2 entries)
    assert calls == [("dinputs", 0, 28), ("dweights", 12, 28), ("dbiases", 24, 28),
                     ("done", 28, 28)]
    with pytest.raises(InputError, match="`progress` must be callable"):
        check_layer(book.Layer_Dense(3, 2), x, progress=3)


def test_progress_moves_within_a_compressed_tensor():
    import numpy as np

    from derivcheck.examples import book
    from derivcheck.layers.check import check_layer

    calls = []
    np.random.seed(0)
    x = np.random.default_rng(0).normal(size=(8, 60))
    check_layer(book.Layer_Dense(60, 40), x, mode="full", progress=lambda *a: calls.append(a))
    groups = [c for c in calls if "dweights group" in c[0]]
    assert len(groups) == 60  # one call per group of the weights (60 rows of 40)
    done = [c[1] for c in calls]
    assert done == sorted(done)  # never goes back
    assert all(c[1] < c[2] for c in calls[:-1])  # the bar is full only at the end
    assert calls[-1][0] == "done" and calls[-1][1] == calls[-1][2]


def test_version(capsys):
    import derivcheck

    with pytest.raises(SystemExit) as info:
        cli.main(["--version"])
    assert info.value.code == 0
    assert capsys.readouterr().out.strip() == f"derivcheck {derivcheck.__version__}"


def test_an_internal_error_exits_3_and_says_it_is_a_bug(monkeypatch, capsys):
    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr("derivcheck.claims.api.check_claim", broken)
    assert cli.main(["claim", "d/dx x = 1"]) == 3
    err = capsys.readouterr().err
    assert "internal error: RuntimeError: boom" in err
    assert "please report" in err


def test_ctrl_c_exits_130(monkeypatch, capsys):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr("derivcheck.claims.api.check_claim", interrupted)
    assert cli.main(["claim", "d/dx x = 1"]) == 130
    assert "interrupted" in capsys.readouterr().err


def test_help_documents_every_exit_status(capsys):
    with pytest.raises(SystemExit):
        cli.main(["--help"])
    out = " ".join(capsys.readouterr().out.split())
    for status in ("0 all ok", "1 something refuted or failed", "2 bad input or usage",
                   "3 an internal error", "130 interrupted"):
        assert status in out


def test_check_file_with_an_unreadable_line_checks_the_rest_and_exits_2(tmp_path, capsys):
    rules = tmp_path / "rules.txt"
    rules.write_text(
        "d/dx x^2 = 2x\n"
        "d/dx x^3 = 3x +\n"
        "# a comment\n"
        "d/dx 3(2x^2)^5 = 15(2x^2)^4 * 4x = 960x^9\n",
        encoding="utf-8",
    )
    assert cli.main(["check", str(rules)]) == 2
    out = capsys.readouterr().out
    assert "unreadable    d/dx x^3 = 3x +  (line 2:" in out
    assert "3 claims: 2 ok, 0 refuted, 0 inconclusive, 1 unreadable" in out
    assert cli.main(["check", str(rules), "--json"]) == 2
    data = json.loads(capsys.readouterr().out)
    assert [c["line"] for c in data["claims"]] == [1, 2, 4]
    bad = data["claims"][1]
    assert bad["verdict"] is None and bad["ok"] is False and bad["error"].startswith("line 2:")
    assert data["claims"][2]["steps"] and data["claims"][2]["failed_step"] is None


def test_check_file_exit_1_when_a_claim_fails_and_every_line_reads(tmp_path, capsys):
    rules = tmp_path / "rules.txt"
    rules.write_text("d/dx x^2 = 2x\nd/dx sin x = -cos x\n", encoding="utf-8")
    assert cli.main(["check", str(rules)]) == 1
    capsys.readouterr()


@pytest.mark.parametrize(
    ("argv", "hint"),
    [
        (["clam", "d/dx x = 1"], "(did you mean 'claim'?)"),
        (["claim", "--sed", "3", "d/dx x = 1"], "(did you mean '--seed'?)"),
        (["layer", "x:Y", "--mode", "fulll"], "(did you mean 'full'?)"),
    ],
)
def test_mistypes_get_a_suggestion_and_exit_2(argv, hint, capsys):
    with pytest.raises(SystemExit) as info:
        cli.main(argv)
    assert info.value.code == 2
    assert hint in capsys.readouterr().err


def test_every_option_has_help():
    import argparse

    parser = cli.build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    for name, command in sub.choices.items():
        for action in command._actions:
            assert action.help, f"derivcheck {name} {action.option_strings or action.dest}"


def test_plot_is_written_on_a_pass_too(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    out = tmp_path / "ok.png"
    argv = ["layer", "derivcheck.examples.book:Layer_Dense", "--args", "4,3", "--plot", str(out)]
    assert cli.main(argv) == 0
    assert out.stat().st_size > 1000
    assert f"plot written to {out}" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("argv", "env", "coloured"),
    [
        (["--color", "always"], {}, True),
        (["--color", "never"], {"FORCE_COLOR": "1"}, False),
        ([], {}, False),  # a pipe: no colour
        ([], {"FORCE_COLOR": "1"}, True),
        ([], {"FORCE_COLOR": "1", "NO_COLOR": "1"}, False),
        (["--color", "always", "--json"], {}, False),  # JSON is never coloured
    ],
)
def test_colour_follows_the_conventions(argv, env, coloured):
    import os

    environment = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "FORCE_COLOR")}
    environment.update(env)
    proc = subprocess.run(
        [sys.executable, "-m", "derivcheck", "claim", "d/dx x^2 = 3x", *argv],
        capture_output=True,
        text=True,
        env=environment,
    )
    assert proc.returncode == 1
    assert ("\x1b[1;31mrefuted\x1b[0m" in proc.stdout) is coloured
    assert ("\x1b[" in proc.stdout) is coloured


def test_a_directional_check_reports_progress_per_probe_and_sample():
    import numpy as np

    from derivcheck.examples import book
    from derivcheck.layers.check import check_layer

    calls = []
    np.random.seed(0)
    x = np.random.default_rng(0).standard_normal((4, 3))
    check_layer(book.Layer_Dense(3, 2), x, mode="directional", progress=lambda *a: calls.append(a))
    # two evaluations per probe and per sampled entry: 2 probes, 3 tensors
    assert calls == [
        ("directional probes", 0, 10), ("probe 1 of 2", 2, 10), ("probe 2 of 2", 4, 10),
        ("dinputs sample", 6, 10), ("dweights sample", 8, 10), ("done", 10, 10),
    ]
