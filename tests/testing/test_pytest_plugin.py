"""The pytest plugin, driven through pytester as pytest-randomly tests itself.

Subprocess runs: an in-process run unloads the SymPy it imported, and a second
run would then mix two copies of SymPy's classes in one process.
"""

pytest_plugins = ["pytester"]


def test_fixture_passes_and_fails_as_the_checks_do(pytester):
    pytester.makepyfile(
        """
        def test_right(derivcheck):
            derivcheck.assert_claim("d/dx x^3 = 3x^2")

        def test_wrong(derivcheck):
            derivcheck.assert_claim("d/dx x^3 = 3x")
        """
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*AssertionError*refuted*"])


def test_seed_option_reaches_the_fixture(pytester):
    pytester.makepyfile(
        """
        def test_seed(derivcheck):
            assert derivcheck.seed == 7
            assert derivcheck.assert_claim("d/dx x^2 = 2x").seed == 7
        """
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--derivcheck-seed", "7")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["derivcheck: seed=7"])


def test_options_are_in_their_own_help_group(pytester):
    result = pytester.runpytest_subprocess("--help")
    result.stdout.fnmatch_lines(
        ["derivative and gradient checks:", "*--derivcheck-seed*", "*--derivcheck-max-examples*"]
    )


def test_layer_property_through_the_fixture_catches_a_broken_layer(pytester):
    pytester.makepyfile(
        """
        from derivcheck.examples import book, broken

        def test_good(derivcheck):
            derivcheck.assert_layer_property(book.Activation_Sigmoid)

        def test_bad(derivcheck):
            derivcheck.assert_layer_property(broken.Sigmoid_MissingOutputFactor)
        """
    )
    result = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "--derivcheck-max-examples", "5"
    )
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*Sigmoid_MissingOutputFactor on inputs of shape*"])


def test_seed_and_mode_options_reach_plain_assert_calls(pytester):
    pytester.makepyfile(
        """
        import numpy as np
        from derivcheck.testing import assert_claim, assert_layer
        from derivcheck.examples.book import Activation_Sigmoid

        def test_plain_imports():
            assert assert_claim("d/dx x^2 = 2x").seed == 5
            assert assert_claim("d/dx x^2 = 2x", seed=1).seed == 1   # the call wins
            report = assert_layer(Activation_Sigmoid(), np.array([[0.5, -1.0]]))
            assert report.seed == 5 and report.mode == "directional"
        """
    )
    result = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "--derivcheck-seed", "5", "--derivcheck-mode", "directional"
    )
    result.assert_outcomes(passed=1)


def test_a_typo_in_user_text_shows_the_caret_not_derivcheck_frames(pytester):
    pytester.makepyfile(
        """
        from derivcheck.testing import assert_claim

        def test_typo():
            assert_claim("d/dx x^3 = 3x +")
        """
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(failed=1)
    out = result.stdout.str()
    assert "the text ends too early" in out and "^" in out
    assert "ast.py" not in out and "derivcheck/claims" not in out
