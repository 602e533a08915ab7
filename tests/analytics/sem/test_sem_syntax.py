"""Model syntax: parsing, defaults and errors with line and column."""

import pytest

from pxm.analytics.sem import ModelIdentificationError, ModelSyntaxError
from pxm.analytics.sem.partable import build_partable
from pxm.analytics.sem.syntax import parse


def rows(text, **kw):
    pt = build_partable(parse(text), **kw)
    return {(r.lhs, r.op, r.rhs): r for r in pt.rows}, pt


def test_operators_modifiers_comments_and_continuation():
    text = """
    # measurement model
    f1 =~ x1 + a*x2 +
          0.5*x3   ! fixed loading
    f2 =~ NA*x4 + x5 + x6; f2 ~~ 1*f2
    f2 ~ b*f1
    x1 ~~ x4
    ab := a*b
    """
    r, pt = rows(text)
    assert pt.latent == ("f1", "f2")
    assert pt.observed == ("x1", "x2", "x3", "x4", "x5", "x6")
    assert not r[("f1", "=~", "x1")].free and r[("f1", "=~", "x1")].value == 1.0
    assert r[("f1", "=~", "x2")].label == "a" and r[("f1", "=~", "x2")].free
    assert not r[("f1", "=~", "x3")].free and r[("f1", "=~", "x3")].value == 0.5
    assert r[("f2", "=~", "x4")].free  # NA frees the marker
    assert not r[("f2", "~~", "f2")].free and r[("f2", "~~", "f2")].value == 1.0
    assert r[("f2", "~", "f1")].label == "b"
    assert r[("x1", "~~", "x4")].free
    assert pt.definitions[0].name == "ab" and pt.definitions[0].expr == "a*b"
    # residual variances free, f1 exogenous so no f1~~f2 covariance (f2 is endogenous)
    assert r[("x3", "~~", "x3")].free
    assert ("f1", "~~", "f2") not in r


def test_shared_labels_make_one_parameter():
    _, pt = rows("f =~ x1 + a*x2 + a*x3")
    assert pt.n_free == 3 + 1 + 1 - 1 + 1  # x2=x3 loading, 3 residuals, f variance


def test_std_lv_defaults():
    r, _ = rows("f =~ x1 + x2 + x3", std_lv=True)
    assert r[("f", "=~", "x1")].free
    assert not r[("f", "~~", "f")].free and r[("f", "~~", "f")].value == 1.0


def test_exogenous_latents_covary_and_fixed_x():
    r, pt = rows("f1 =~ x1 + x2 + x3\nf2 =~ x4 + x5 + x6\nf1 ~ z1 + z2")
    assert pt.fixed_x == ("z1", "z2")
    assert r[("z1", "~~", "z2")].exo and not r[("z1", "~~", "z2")].free
    assert ("f1", "~~", "f2") not in r  # f1 is endogenous
    r, _ = rows("f1 =~ x1 + x2 + x3\nf2 =~ x4 + x5 + x6")
    assert r[("f1", "~~", "f2")].free


@pytest.mark.parametrize(
    ("text", "line", "col", "needle"),
    [
        ("f =~ x1 + x2\nf =~ + x3", 2, 6, "variable name"),
        ("f =~ x1 x2", 1, 9, "'+'"),
        ("f =~ x1 + x2\ny ~~", 2, 5, "after"),
        ("f x1 x2", 1, 3, "operator"),
        ("f =~ x1 + $x2", 1, 11, "unexpected character"),
        ("f =~ x1 + x2 +\n", 1, 15, "end of model"),
        ("ab := a*/b", 1, 9, "expression"),
        ("y ~ 1", 1, 5, "intercepts"),
        ("f =~ x1 + x2\nf =~ x2", 2, 6, "twice"),
        ("\n\n   =~ x1", 3, 4, "before"),
        ("f =~ x1 + (x2)", 1, 11, "variable name"),
    ],
)
def test_syntax_errors_name_line_and_column(text, line, col, needle):
    with pytest.raises(ModelSyntaxError) as info:
        build_partable(parse(text))
    err = info.value
    assert (err.line, err.column) == (line, col), str(err)
    assert f"line {line}, column {col}" in str(err)
    assert needle in str(err)


def test_empty_model():
    with pytest.raises(ModelSyntaxError):
        parse("# nothing\n")


def test_single_indicator_factor_not_identified():
    with pytest.raises(ModelIdentificationError, match="single indicator"):
        build_partable(parse("f =~ x1\ng =~ x2 + x3 + x4"))
    # fixing the residual variance identifies it
    build_partable(parse("f =~ x1\nx1 ~~ 0*x1\ng =~ x2 + x3 + x4"))


def test_latent_without_indicators():
    with pytest.raises(ModelIdentificationError, match="no indicators"):
        build_partable(parse("f =~ 0*x1 + 0*x2\ng =~ x2 + x3 + x4"))
