"""Input edge: turn a DataFrame (or a covariance matrix) into checked sample moments."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.linalg import lapack

from .errors import DataError, SEMError
from .matrices import Array


@dataclass(frozen=True)
class Sample:
    names: tuple[str, ...]
    n_obs: int
    cov: Array  # biased (divided by N) covariance; EM estimate under FIML
    mean: Array
    X: Array | None  # raw data (rows kept), NaN for missing under FIML
    n_dropped: int = 0


def _check_cov(S: Array, names: Sequence[str], n: int) -> None:
    p = len(names)
    if n < p:
        raise DataError(f"fewer rows ({n}) than variables in the model ({p}); SEM needs more cases than variables")
    d = S.diagonal()
    top = float(d.max()) if p else 1.0
    if not (math.isfinite(top) and float(d.min()) > 1e-12 * max(1.0, top)):  # NaN, inf or a (near) zero
        for i, v in enumerate(names):
            if not np.isfinite(d[i]) or d[i] <= 1e-12 * max(1.0, float(np.nanmax(np.abs(d)))):
                raise DataError(f"column '{v}' is constant (zero variance)")
    sd = np.sqrt(d)
    R = S / np.multiply.outer(sd, sd)
    # smallest eigenvalue >= 1 / trace(R^-1) = 1 / ||L^-1||_F^2: when that bound clears, no eigh is needed
    L, info = lapack.dpotrf(R, lower=1)
    if info == 0:
        Li, info = lapack.dtrtri(L, lower=1)
        if info == 0 and float(np.vdot(Li, Li)) < 1e10:
            return
    w, vecs = np.linalg.eigh(R)
    if w[0] < 1e-10:
        involved = [names[int(i)] for i in np.flatnonzero(np.abs(vecs[:, 0]) > 0.1)]
        raise DataError("the sample covariance matrix is singular: columns "
                        f"{', '.join(involved)} are linearly dependent")


def load(data: Any, names: Sequence[str], *, missing: str = "listwise", cov: Any = None, n_obs: int | None = None,
         sample_names: Sequence[str] | None = None, cov_rescale: bool = True) -> Sample:
    """Sample moments from a DataFrame, or from a covariance matrix with its number of observations (taken as
    the unbiased N-1 one and rescaled by (N-1)/N like lavaan, unless ``cov_rescale=False``)."""
    if data is not None:
        return from_frame(data, names, missing=missing)
    if cov is None:
        raise SEMError("give data (a DataFrame) or cov and n_obs")
    if missing == "fiml":
        raise SEMError("missing='fiml' needs raw data, not a covariance matrix")
    sample = from_cov(cov, sample_names or [], n_obs, names)
    if cov_rescale:
        sample = Sample(sample.names, sample.n_obs, sample.cov * (sample.n_obs - 1) / sample.n_obs, sample.mean, None)
    return sample


def _float_columns(df: Any, names: Sequence[str]) -> Array | None:
    """The named columns as one float matrix when they are all plain numpy numbers (no bool, object, string or
    nullable extension columns); None sends the caller to the checking path. Columns are read one by one with
    pandas' array accessor (``df[list]`` costs pandas ~0.1 ms; ``df[name]`` ~6 us a column)."""
    cols = df.columns
    if not cols.is_unique:
        return None
    getter = getattr(df, "_get_column_array", None)  # private but long-standing; read-only use
    if getter is not None:
        get_loc = cols.get_loc
        try:
            arrays = [getter(get_loc(v)) for v in names]
        except (KeyError, TypeError):  # a name that is not a column: the checking path says which
            return None
    else:
        if any(v not in cols for v in names):
            return None
        arrays = [df[v].to_numpy() for v in names]
    if not all(isinstance(a, np.ndarray) and a.dtype.kind in "fiu" for a in arrays):
        return None
    return np.array(arrays, dtype=float).T  # (rows, variables), a transposed view


def from_frame(df: Any, names: Sequence[str], *, missing: str = "listwise") -> Sample:
    import pandas as pd

    if not isinstance(df, pd.DataFrame):
        raise DataError("data must be a pandas DataFrame")
    if missing == "listwise" and names:
        X = _float_columns(df, names)
        if X is not None:
            return _listwise(X, names)
    absent = [v for v in names if v not in df.columns]
    if absent:
        raise DataError(f"column '{absent[0]}' named in the model is missing from the data"
                        + (f" (also missing: {', '.join(absent[1:])})" if len(absent) > 1 else "")
                        + f"; if '{absent[0]}' is meant as a latent variable, define it with '{absent[0]} =~ ...'")
    cols = {}
    sub = df[list(names)]
    if all(pd.api.types.is_numeric_dtype(t) and not pd.api.types.is_bool_dtype(t) for t in sub.dtypes):
        cols = dict(zip(names, sub.to_numpy(dtype=float).T, strict=True))
    for v in names:
        if v in cols:
            continue
        col = df[v]
        if col.dtype == bool:
            col = col.astype(float)
        if pd.api.types.is_numeric_dtype(col):
            cols[v] = col.astype(float).to_numpy()
            continue
        num = pd.to_numeric(col, errors="coerce")
        bad = num.isna() & col.notna() & (col.astype(str).str.strip() != "")
        if bad.any():
            pos = int(np.flatnonzero(bad.to_numpy())[0])
            raise DataError(f"column '{v}' contains non-numeric values (e.g. {col.iloc[pos]!r} in row {pos + 1})")
        cols[v] = num.astype(float).to_numpy()
    X = np.column_stack([cols[v] for v in names]) if names else np.zeros((len(df), 0))
    if missing == "listwise":
        return _listwise(X, names)
    if missing != "fiml":
        raise DataError(f"missing must be 'listwise' or 'fiml', not {missing!r}")
    n_all = X.shape[0]
    X = X[~np.isnan(X).all(axis=1)]
    n = X.shape[0]
    if n < len(names) or n < 2:
        raise DataError(f"fewer rows ({n}) than variables in the model ({len(names)})")
    from .fiml import em_saturated

    for i, v in enumerate(names):
        obs = X[~np.isnan(X[:, i]), i]
        if obs.size < 2 or np.ptp(obs) == 0:
            raise DataError(f"column '{v}' is constant (zero variance)" if obs.size >= 2
                            else f"column '{v}' has fewer than two observed values")
    mean, S, _ = em_saturated(X)
    _check_cov(S, names, n)
    return Sample(tuple(names), n, S, mean, X, n_all - n)


def _listwise(X: Array, names: Sequence[str]) -> Sample:
    n_all = X.shape[0]
    if np.isnan(X).any():
        X = X[~np.isnan(X).any(axis=1)]
    n = X.shape[0]
    if n < len(names) or n < 2:
        raise DataError(f"fewer rows ({n}) than variables in the model ({len(names)}) after removing "
                        "incomplete rows")
    mean = np.add.reduce(X, axis=0) / n  # X.mean() without its Python-level argument handling
    Xc = X - mean
    S = Xc.T @ Xc
    S /= n
    _check_cov(S, names, n)
    return Sample(tuple(names), n, S, mean, X, n_all - n)


def from_cov(cov: Any, names: Sequence[str], n_obs: int | None, model_names: Sequence[str],
             mean: Any = None) -> Sample:
    import pandas as pd

    if n_obs is None or int(n_obs) < 2:
        raise DataError("n_obs (the number of observations behind the covariance matrix) is required")
    if isinstance(cov, pd.DataFrame):
        given = [str(c) for c in cov.columns]
        M = cov.to_numpy(dtype=float)
    else:
        M = np.asarray(cov, dtype=float)
        given = list(names) if names is not None else []
        if len(given) != M.shape[0]:
            raise DataError("pass the variable names of the covariance matrix (sample_names=...) "
                            "or give it as a DataFrame")
    if M.ndim != 2 or M.shape[0] != M.shape[1] or not np.allclose(M, M.T, atol=1e-8 * np.abs(M).max()):
        raise DataError("the covariance matrix must be square and symmetric")
    absent = [v for v in model_names if v not in given]
    if absent:
        raise DataError(f"variable '{absent[0]}' named in the model is missing from the covariance matrix")
    idx = [given.index(v) for v in model_names]
    S = M[np.ix_(idx, idx)]
    S = 0.5 * (S + S.T)
    n = int(n_obs)
    _check_cov(S, model_names, n)
    mu = np.zeros(len(idx)) if mean is None else np.asarray(mean, dtype=float)[idx]
    return Sample(tuple(model_names), n, S, mu, None)
