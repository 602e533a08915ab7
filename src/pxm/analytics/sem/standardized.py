"""Stage 9: standardized solution (std_lv, std_all), R-square, latent correlations, defined parameters.

Covariances are standardized by the residual (co)variance diagonal (lavaan's cov.std = TRUE): an ``a ~~ b`` row
is divided by sqrt(theta_aa * theta_bb); variances by the total (implied) variance.
"""

from __future__ import annotations

import ast
import math
from collections.abc import Callable

import numpy as np

from .implied import Moments, moments
from .matrices import RAM, Array
from .partable import ParTable


def standardize(pt: ParTable, ram: RAM, mom: Moments, est: Array) -> tuple[Array, Array]:
    """std_lv and std_all for every row of the parameter table (est: value of each row)."""
    idx = {v: i for i, v in enumerate(ram.names)}
    latent = set(pt.latent)
    total = mom.total
    with np.errstate(invalid="ignore", divide="ignore"):
        sd = np.sqrt(np.where(np.diag(total) > 0, np.diag(total), np.nan))
        res = np.diag(mom.S)
        std_lv = np.full(len(pt.rows), np.nan)
        std_all = np.full(len(pt.rows), np.nan)
        for k, r in enumerate(pt.rows):
            e = est[k]
            if r.op == "=~":
                f, x = idx[r.lhs], idx[r.rhs]
                std_lv[k] = e * sd[f] / (sd[x] if r.rhs in latent else 1.0)
                std_all[k] = e * sd[f] / sd[x]
            elif r.op == "~":
                y, x = idx[r.lhs], idx[r.rhs]
                std_lv[k] = e * (sd[x] if r.rhs in latent else 1.0) / (sd[y] if r.lhs in latent else 1.0)
                std_all[k] = e * sd[x] / sd[y]
            elif r.op == "~~":
                a, b = idx[r.lhs], idx[r.rhs]
                if a == b:
                    std_all[k] = e / total[a, a]
                    std_lv[k] = e / total[a, a] if r.lhs in latent else e
                else:
                    den = res[a] * res[b]
                    std_all[k] = e / math.sqrt(den) if den > 0 else np.nan
                    if r.lhs in latent and r.rhs in latent:
                        std_lv[k] = std_all[k]
                    elif r.lhs in latent:
                        std_lv[k] = e / math.sqrt(res[a]) if res[a] > 0 else np.nan
                    elif r.rhs in latent:
                        std_lv[k] = e / math.sqrt(res[b]) if res[b] > 0 else np.nan
                    else:
                        std_lv[k] = e
            else:  # intercept
                i = idx[r.lhs]
                std_lv[k] = e
                std_all[k] = e / sd[i]
    return std_lv, std_all


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
    from .matrices import position

    A, S, m = ram.fill(theta)
    out = np.empty(len(pt.rows))
    for k, r in enumerate(pt.rows):
        mat, i, j = position(pt, r.lhs, r.op, r.rhs)
        out[k] = A[i, j] if mat == "A" else (S[i, j] if mat == "S" else m[i])
    return out


def derived_vector(pt: ParTable, ram: RAM, theta: Array) -> Array:
    """Everything the delta method and the bootstrap need: std_lv, std_all of rows, defined values."""
    mom = moments(ram, theta)
    vals = row_values(pt, ram, theta)
    lv, al = standardize(pt, ram, mom, vals)
    return np.concatenate([lv, al, defined_function(pt)(vals)])


def delta_se(fn: Callable[[Array], Array], theta: Array, vcov: Array) -> Array:
    """Delta-method standard errors of fn(theta) with a central-difference Jacobian."""
    base = fn(theta)
    q = len(theta)
    Jac = np.zeros((len(base), q))
    for k in range(q):
        h = 1e-6 * max(1.0, abs(theta[k]))
        e = np.zeros(q)
        e[k] = h
        Jac[:, k] = (fn(theta + e) - fn(theta - e)) / (2 * h)
    V = Jac @ vcov @ Jac.T
    with np.errstate(invalid="ignore"):
        return np.sqrt(np.where(np.diag(V) >= 0, np.diag(V), np.nan))
