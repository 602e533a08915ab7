"""Stage 9: standardized solution (std_lv, std_all), R-square, latent correlations, defined parameters.

Covariances are standardized by the residual (co)variance diagonal (lavaan's cov.std = TRUE): an ``a ~~ b`` row
is divided by sqrt(theta_aa * theta_bb); variances by the total (implied) variance.
"""

from __future__ import annotations

import ast
import math
from collections.abc import Callable
from functools import lru_cache

import numpy as np

from .implied import BatchMoments, Moments, moments_batch
from .matrices import RAM, Array
from .partable import ParTable


class Standardizer:
    """Vectorised std_lv / std_all for every row of a parameter table (positions computed once)."""

    def __init__(self, pt: ParTable, ram: RAM) -> None:
        from .matrices import _position

        idx = {v: i for i, v in enumerate(ram.names)}
        latent = set(pt.latent)
        pos = [_position(idx, r.lhs, r.op, r.rhs) for r in pt.rows]
        self.kind = np.array([{"A": 0, "S": 1, "m": 2}[p[0]] for p in pos], dtype=int)
        self.pi = np.array([p[1] for p in pos], dtype=int)
        self.pj = np.array([p[2] for p in pos], dtype=int)
        op = [r.op for r in pt.rows]
        self.op = np.array([{"=~": 0, "~": 1, "~~": 2, "~1": 3}[o] for o in op], dtype=int)
        self.lhs = np.array([idx[r.lhs] for r in pt.rows], dtype=int)
        self.rhs = np.array([idx[r.rhs] if r.rhs in idx else idx[r.lhs] for r in pt.rows], dtype=int)
        self.lhs_lat = np.array([r.lhs in latent for r in pt.rows], dtype=bool)
        self.rhs_lat = np.array([r.rhs in latent for r in pt.rows], dtype=bool)

    def values(self, mom: Moments | BatchMoments) -> Array:
        i, j = self.pi, self.pj
        return np.where(self.kind == 0, mom.A[..., i, j], np.where(self.kind == 1, mom.S[..., i, j], mom.m[..., i]))

    def __call__(self, mom: Moments | BatchMoments, est: Array) -> tuple[Array, Array]:
        dg = np.diagonal(mom.total, axis1=-2, axis2=-1)
        res = np.diagonal(mom.S, axis1=-2, axis2=-1)
        return self.parts(est, dg, res)

    def parts(self, est: Array, dg: Array, res: Array) -> tuple[Array, Array]:
        """std_lv, std_all from row values, total variances and (residual) variances; works elementwise on
        leading batch axes and on complex input (complex-step derivatives)."""
        with np.errstate(invalid="ignore", divide="ignore"):
            sd = np.sqrt(np.where(dg.real > 0, dg, np.nan))
            rsd = np.sqrt(np.where(res.real > 0, res, np.nan))
            lhs, rhs, op = self.lhs, self.rhs, self.op
            one = np.ones_like(est)
            lat_sd_l = np.where(self.lhs_lat, sd[..., lhs], one)
            lat_sd_r = np.where(self.rhs_lat, sd[..., rhs], one)
            diag = lhs == rhs
            # =~ (lhs factor, rhs indicator)
            load_all = est * sd[..., lhs] / sd[..., rhs]
            load_lv = est * sd[..., lhs] / lat_sd_r
            # ~ (lhs outcome, rhs predictor)
            reg_all = est * sd[..., rhs] / sd[..., lhs]
            reg_lv = est * lat_sd_r / lat_sd_l
            # ~~
            var_all = est / dg[..., lhs]
            var_lv = np.where(self.lhs_lat, var_all, est)
            cov_all = est / (rsd[..., lhs] * rsd[..., rhs])
            cov_lv = est / (np.where(self.lhs_lat, rsd[..., lhs], one) * np.where(self.rhs_lat, rsd[..., rhs], one))
            cov_all = np.where(diag, var_all, cov_all)
            cov_lv = np.where(diag, var_lv, cov_lv)
            int_all = est / sd[..., lhs]
            std_all = np.select([op == 0, op == 1, op == 2], [load_all, reg_all, cov_all], int_all)
            std_lv = np.select([op == 0, op == 1, op == 2], [load_lv, reg_lv, cov_lv], est)
        return std_lv, std_all


def standardizer(pt: ParTable, ram: RAM) -> Standardizer:
    """The Standardizer of a model, built once per parameter table (it uses only the variable order, which
    build_ram takes from the table)."""
    return _standardizer(pt) if ram.names == (*pt.observed, *pt.latent) else Standardizer(pt, ram)


@lru_cache(maxsize=64)
def _standardizer(pt: ParTable) -> Standardizer:
    from .matrices import build_ram

    stdz = Standardizer(pt, build_ram(pt))
    for value in vars(stdz).values():
        value.flags.writeable = False
    return stdz


def standardize(pt: ParTable, ram: RAM, mom: Moments, est: Array) -> tuple[Array, Array]:
    """std_lv and std_all for every row of the parameter table (est: value of each row)."""
    return standardizer(pt, ram)(mom, est)


def r_square(ram: RAM, mom: Moments) -> dict[str, float]:
    out: dict[str, float] = {}
    has_parent = (np.abs(mom.A) > 0).any(axis=1) | np.isin(np.arange(ram.n), ram.a_rc[:, 0])
    for i, v in enumerate(ram.names):
        if has_parent[i]:
            tot = mom.total[i, i]
            out[v] = float(1.0 - mom.S[i, i] / tot) if tot > 0 else float("nan")
    return out


def latent_correlations(ram: RAM, mom: Moments) -> Array:
    C = mom.total[ram.p:, ram.p:]
    d = np.sqrt(np.clip(np.diag(C), 1e-300, None))
    return C / np.outer(d, d)


_FUNCS: dict[str, Callable[[float], float]] = {"sqrt": math.sqrt, "exp": math.exp, "log": math.log,
                                               "abs": abs}


def _eval(node: ast.AST, env: dict[str, float]) -> float:
    if isinstance(node, ast.Expression):
        return _eval(node.body, env)
    if isinstance(node, ast.Constant):
        if not isinstance(node.value, (int, float)):
            raise ValueError("unsupported constant")
        return float(node.value)
    if isinstance(node, ast.Name):
        if node.id not in env:
            raise KeyError(node.id)
        return env[node.id]
    if isinstance(node, ast.UnaryOp):
        v = _eval(node.operand, env)
        return -v if isinstance(node.op, ast.USub) else v
    if isinstance(node, ast.BinOp):
        a, b = _eval(node.left, env), _eval(node.right, env)
        if isinstance(node.op, ast.Add):
            return a + b
        if isinstance(node.op, ast.Sub):
            return a - b
        if isinstance(node.op, ast.Mult):
            return a * b
        if isinstance(node.op, ast.Div):
            return a / b if b != 0 else float("nan")
        return float(a**b)
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in _FUNCS:
        return float(_FUNCS[node.func.id](*[_eval(x, env) for x in node.args]))
    raise ValueError("unsupported expression")


def defined_function(pt: ParTable) -> Callable[[Array], Array]:
    """theta -> values of the defined (:=) parameters, in order; later definitions may use earlier ones."""
    trees = [(d.name, ast.parse(d.expr.replace("^", "**"), mode="eval")) for d in pt.definitions]

    def fn(row_values: Array) -> Array:
        env = {r.label: float(row_values[k]) for k, r in enumerate(pt.rows) if r.label}
        out = np.empty(len(trees))
        for i, (name, tree) in enumerate(trees):
            try:
                out[i] = _eval(tree, env)
            except (ValueError, ZeroDivisionError, OverflowError):
                out[i] = np.nan
            env[name] = float(out[i])
        return out

    return fn


def check_definitions(pt: ParTable) -> None:
    from .errors import ModelSyntaxError

    known = {r.label for r in pt.rows if r.label}
    for d in pt.definitions:
        tree = ast.parse(d.expr.replace("^", "**"), mode="eval")
        for node in ast.walk(tree):
            if isinstance(node, ast.Name) and node.id not in known and node.id not in _FUNCS:
                raise ModelSyntaxError(f"defined parameter '{d.name}' uses unknown label '{node.id}'",
                                       d.line, d.col)
            if isinstance(node, ast.Call) and not (isinstance(node.func, ast.Name) and node.func.id in _FUNCS):
                raise ModelSyntaxError(f"defined parameter '{d.name}': only sqrt, exp, log, abs are allowed",
                                       d.line, d.col)
        known.add(d.name)


def row_values(pt: ParTable, ram: RAM, theta: Array) -> Array:
    """Value of every parameter-table row at theta (fixed rows from the matrices)."""
    return standardizer(pt, ram).values(moments_batch(ram, theta[None, :]))[0]


def derived_function(pt: ParTable, ram: RAM) -> Callable[[Array], Array]:
    """thetas (K, q), real or complex -> [std_lv of rows, std_all of rows] (K, 2 * rows)."""
    stdz = Standardizer(pt, ram)

    def fn(thetas: Array) -> Array:
        mom = moments_batch(ram, np.atleast_2d(thetas))
        lv, al = stdz(mom, stdz.values(mom))
        return np.concatenate([lv, al], axis=1)

    return fn


def defined_of_theta(pt: ParTable, ram: RAM) -> Callable[[Array], Array]:
    """thetas (K, q) -> defined parameter values (K, n_defined)."""
    stdz = Standardizer(pt, ram)
    dfn = defined_function(pt)

    def fn(thetas: Array) -> Array:
        vals = stdz.values(moments_batch(ram, np.atleast_2d(thetas)))
        return np.array([dfn(v) for v in vals]).reshape(len(vals), -1)

    return fn


def _se(Jac: Array, vcov: Array) -> Array:
    d = np.einsum("ij,ij->i", Jac @ vcov, Jac)  # diag(Jac vcov Jac') without the off-diagonal
    with np.errstate(invalid="ignore"):
        return np.sqrt(np.where(d >= 0, d, np.nan))


def delta_se_complex(fn: Callable[[Array], Array], theta: Array, vcov: Array) -> Array:
    """Delta-method standard errors with a complex-step Jacobian (exact to rounding; Squire & Trapp 1998)."""
    h = 1e-30
    q = len(theta)
    out = fn(theta[None, :] + 1j * h * np.eye(q))
    return _se((out.imag / h).T, vcov)


def std_jacobian(pt: ParTable, ram: RAM, mom: Moments, stdz: Standardizer | None = None) -> Array:
    """d[std_lv, std_all]/dtheta (2 * rows x q): analytic derivatives of the row values and of the implied
    variances (d diag(B S B') = 2 B[:, r] T[c, :] for a path, 2 B[:, r] B[:, c] for a covariance), pushed
    through the elementwise standardization by a complex step."""
    stdz = stdz or standardizer(pt, ram)
    q, n = ram.q, ram.n
    B, T = mom.B, mom.total
    Jdg = np.zeros((q, n))
    Jres = np.zeros((q, n))
    if len(ram.a_k):
        r, c = ram.a_rc[:, 0], ram.a_rc[:, 1]
        np.add.at(Jdg, ram.a_k, 2.0 * B[:, r].T * T[c, :])
    if len(ram.s_k):
        r, c = ram.s_rc[:, 0], ram.s_rc[:, 1]
        contrib = np.where((r == c)[:, None], 1.0, 2.0) * B[:, r].T * B[:, c].T
        np.add.at(Jdg, ram.s_k, contrib)
        d = r == c
        np.add.at(Jres, (ram.s_k[d], r[d]), 1.0)
    free = np.array([row.free for row in pt.rows])
    Jest = np.zeros((q, len(pt.rows)))
    rows = np.flatnonzero(free > 0)
    Jest[free[rows] - 1, rows] = 1.0
    est = stdz.values(mom)
    h = 1e-30
    lv, al = stdz.parts(est[None, :] + 1j * h * Jest, np.diag(T)[None, :] + 1j * h * Jdg,
                        np.diag(mom.S)[None, :] + 1j * h * Jres)
    return np.concatenate([lv.imag, al.imag], axis=1).T / h


def delta_se_std(pt: ParTable, ram: RAM, mom: Moments, vcov: Array) -> Array:
    return _se(std_jacobian(pt, ram, mom), vcov)


def delta_se(fn: Callable[[Array], Array], theta: Array, vcov: Array) -> Array:
    """Delta-method standard errors of fn(theta) with a central-difference Jacobian."""
    q = len(theta)
    h = 1e-6 * np.maximum(1.0, np.abs(theta))
    E = np.diag(h)
    out = fn(np.vstack([theta + E, theta - E]))
    return _se(((out[:q] - out[q:]) / (2 * h)[:, None]).T, vcov)
