"""Bad data gets a clear message naming items and rows; nothing is dropped silently."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pxm.analytics.study.data import (
    StudyDataError,
    apply_mapping,
    fingerprint,
    parse_map_options,
    read_data,
    validate_data,
)
from pxm.analytics.study.instruments import load_instrument


@pytest.fixture()
def inst() -> dict:
    return load_instrument()


def problems(df: pd.DataFrame, inst: dict, **kw) -> list[str]:
    with pytest.raises(StudyDataError) as exc:
        validate_data(df, inst, **kw)
    return exc.value.problems


def test_clean_data_passes(likert_df, inst) -> None:
    clean, report = validate_data(likert_df, inst, min_complete=65)
    assert clean.shape == (400, 25)
    assert report.n_complete == 400 and report.dropped_rows == ()


def test_values_outside_scale_name_item_value_and_rows(likert_df, inst) -> None:
    df = likert_df.copy()
    df.loc[3, "PPE2"] = 7  # row 4
    df.loc[18, "PPE2"] = 7  # row 19
    df.loc[0, "BP5"] = 0
    msgs = problems(df, inst)
    assert "PPE2: value 7 outside the 1-5 scale in rows 4, 19" in msgs
    assert "BP5: value 0 outside the 1-5 scale in row 1" in msgs


def test_non_numeric_values(likert_df, inst) -> None:
    df = likert_df.astype(object)
    df.loc[1, "CFM3"] = "agree"
    df.loc[4, "CFM3"] = "agree"
    msgs = problems(df, inst)
    assert msgs == ["CFM3: non-numeric value(s) 'agree' in rows 2, 5"]


def test_missing_and_unknown_item_columns(likert_df, inst) -> None:
    df = likert_df.drop(columns=["FCR4", "BP1"]).rename(columns={"PPE1": "PPE9"})
    msgs = problems(df, inst)
    assert any("unknown item code(s)" in m and "PPE9" in m for m in msgs)
    assert any(m.startswith("required item column(s) missing") and "PPE1" in m and "FCR4" in m and "BP1" in m
               for m in msgs)


def test_extra_non_item_columns_are_ignored_and_reported(likert_df, inst) -> None:
    df = likert_df.assign(respondent_id=range(len(likert_df)), hospital="A")
    _, report = validate_data(df, inst)
    assert report.ignored_columns == ("respondent_id", "hospital")


def test_item_without_variance(likert_df, inst) -> None:
    df = likert_df.copy()
    df["BP3"] = 4
    assert problems(df, inst) == ["BP3: no variance (every complete row answers 4); the item cannot be modelled"]


def test_too_few_complete_rows(likert_df, inst) -> None:
    df = likert_df.head(30).astype(float)
    df.loc[2, "PLP1"] = np.nan
    msgs = problems(df, inst, min_complete=65)
    assert len(msgs) == 1
    assert "too few complete rows for the model: 29 complete of 30" in msgs[0]
    assert "needs at least 65" in msgs[0] and "row 3" in msgs[0]


def test_dropped_rows_are_reported(likert_df, inst) -> None:
    df = likert_df.astype(object)
    df.loc[5, "CSP1"] = ""
    df.loc[9, "BP2"] = np.nan
    df.loc[9, "BP3"] = "NA"
    clean, report = validate_data(df, inst)
    assert report.n_complete == 398 and report.dropped_rows == (6, 10)
    assert report.missing_by_item["BP2"] == 1 and report.missing_by_item["CSP1"] == 1
    assert list(clean.index[:6]) == [1, 2, 3, 4, 5, 7]
    assert "2 of 400 rows dropped for missing answers (rows 6, 10)" in report.warnings[0]


def test_mapping(likert_df, inst) -> None:
    df = likert_df.rename(columns={"PPE1": "q1", "PPE2": "q2"})
    assert parse_map_options(["q1=PPE1", " q2 = PPE2 "]) == {"q1": "PPE1", "q2": "PPE2"}
    mapped = apply_mapping(df, {"q1": "PPE1", "q2": "PPE2"})
    validate_data(mapped, inst)
    with pytest.raises(StudyDataError, match="not in the data: zz"):
        apply_mapping(df, {"zz": "PPE1"})
    with pytest.raises(StudyDataError, match="expected OLD=NEW"):
        parse_map_options(["q1"])


def test_read_csv_excel_and_fingerprint(tmp_path, likert_df, inst) -> None:
    csv = tmp_path / "answers.csv"
    likert_df.to_csv(csv, index=False)
    xlsx = tmp_path / "answers.xlsx"
    likert_df.to_excel(xlsx, index=False)
    a, _ = validate_data(read_data(csv), inst)
    b, _ = validate_data(read_data(xlsx), inst)
    assert fingerprint(a) == fingerprint(b)
    c = a.copy()
    c.iloc[0, 0] = 5 if c.iloc[0, 0] != 5 else 4
    assert fingerprint(c) != fingerprint(a)
    with pytest.raises(StudyDataError, match="file not found"):
        read_data(tmp_path / "missing.csv")


def test_read_spss(tmp_path, likert_df, inst) -> None:
    pyreadstat = pytest.importorskip("pyreadstat")
    sav = tmp_path / "answers.sav"
    pyreadstat.write_sav(likert_df.astype(float), str(sav))
    clean, _ = validate_data(read_data(sav), inst)
    assert clean.shape == (400, 25)
