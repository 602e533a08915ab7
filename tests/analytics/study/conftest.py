"""Shared fixtures of the study tests."""

from __future__ import annotations

import pandas as pd
import pytest
from study_sim import simulate


@pytest.fixture(scope="session")
def likert_df() -> pd.DataFrame:
    return simulate(400, seed=7, likert=True).astype(int)
