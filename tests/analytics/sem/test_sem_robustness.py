"""Random models on random data: the engine returns a result or raises SEMError, never anything else, and the
result is always JSON-serialisable (non-convergence and Heywood cases are data in `warnings`)."""

import json

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from pxm.analytics.sem import SEMError, fit


@settings(max_examples=20, deadline=None)
@given(
    sizes=st.lists(st.integers(2, 4), min_size=1, max_size=3),
    regression=st.booleans(),
    covariate=st.booleans(),
    n=st.integers(25, 300),
    seed=st.integers(0, 10_000),
    option=st.sampled_from([{}, {"std_lv": True}, {"estimator": "MLR"}, {"missing": "fiml"}]),
    holes=st.booleans(),
)
def test_random_models_never_crash(sizes, regression, covariate, n, seed, option, holes):
    rng = np.random.default_rng(seed)
    lines, cols, k = [], [], 1
    for f, size in enumerate(sizes):
        items = [f"v{k + i}" for i in range(size)]
        k += size
        cols += items
        lines.append(f"F{f} =~ " + " + ".join(items))
    if regression and len(sizes) > 1:
        lines.append("F0 ~ " + " + ".join(f"F{j}" for j in range(1, len(sizes))))
    if covariate:
        lines.append("F0 ~ z1")
        cols.append("z1")
    common = rng.standard_normal((n, 1))
    X = common * rng.uniform(0.1, 0.9, len(cols)) + rng.standard_normal((n, len(cols))) * rng.uniform(0.3, 1, len(cols))
    df = pd.DataFrame(X, columns=cols)
    if holes:
        df = df.mask(rng.random(df.shape) < 0.08)
    try:
        result = fit("\n".join(lines), df, **option)
    except SEMError:
        return
    d = result.to_dict()
    json.dumps(d, allow_nan=False)
    assert isinstance(d["converged"], bool)
    result.summary()
