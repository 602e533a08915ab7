"""The study's own reliability formulas agree with the SEM engine's reliability block."""

from __future__ import annotations

import numpy as np
import pytest

from pxm.analytics.study import tables
from pxm.analytics.study.instruments import load_instrument
from pxm.analytics.study.model import build_syntax
from pxm.analytics.study.run import fit_model


def test_alpha_cr_ave_htmt_match_engine(likert_df) -> None:
    inst = load_instrument()
    data = likert_df.astype(float)
    result = fit_model(build_syntax(inst), data)
    assert result["converged"] and result["fit"]["df"] == 260
    measurement = tables.measurement_table(result, data, inst)
    factors = result["reliability"]["factors"]
    for m in measurement:
        f = factors[m["construct"]]
        assert m["alpha"] == pytest.approx(f["alpha"], abs=1e-9)
        assert m["ave"] == pytest.approx(f["ave"], abs=1e-9)
        # no correlated residuals in this model, so omega equals CR from the loadings
        assert m["cr"] == pytest.approx(f["composite_reliability"], abs=1e-6)
    disc = tables.discriminant_table(result, data, inst, measurement)
    names = result["reliability"]["htmt"]["names"]
    engine_htmt = np.asarray(result["reliability"]["htmt"]["matrix"])
    engine_fl = np.asarray(result["reliability"]["fornell_larcker"]["matrix"])
    for i, a in enumerate(disc["constructs"]):
        for j, b in enumerate(disc["constructs"][: i + 1]):
            ei, ej = names.index(a), names.index(b)
            if i != j:
                assert disc["htmt"][i][j] == pytest.approx(engine_htmt[ei, ej], abs=1e-9)
            assert disc["fornell_larcker"][i][j] == pytest.approx(engine_fl[ei, ej], abs=1e-6)
