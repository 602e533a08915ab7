"""Stage 2: the parameter table, with lavaan's sem()/cfa() defaults.

Defaults: the first loading of each factor fixed to 1 (or, with ``std_lv``, latent variances fixed to 1 and all
loadings free); residual variances free; covariances among exogenous latents free; residual covariances among
pure endogenous variables free (lavaan's auto.cov.y); exogenous observed covariates as fixed.x (their
(co)variances fixed at the sample values and not counted as parameters).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .errors import ModelIdentificationError, ModelSyntaxError
from .syntax import Definition, ParsedModel


@dataclass(frozen=True)
class Param:
    lhs: str
    op: str  # "=~", "~", "~~", "~1"
    rhs: str
    label: str = ""
    free: int = 0  # 1-based index of the free parameter, 0 when fixed
    value: float = 0.0  # fixed value, or starting value when free
    user: bool = True
    exo: bool = False  # fixed.x row: value taken from the sample covariance


@dataclass(frozen=True)
class ParTable:
    rows: tuple[Param, ...]
    observed: tuple[str, ...]
    latent: tuple[str, ...]
    fixed_x: tuple[str, ...]
    definitions: tuple[Definition, ...] = field(default_factory=tuple)

    def __hash__(self) -> int:  # computed once: tables key the per-model caches (compiled, modindices, ...)
        h = self.__dict__.get("_hash")
        if h is None:
            h = hash((self.rows, self.observed, self.latent, self.fixed_x, self.definitions))
            object.__setattr__(self, "_hash", h)
        return int(h)

    @property
    def n_free(self) -> int:
        return max((r.free for r in self.rows), default=0)

    def free_rows(self) -> list[Param]:
        """The first row of each free parameter, in parameter order."""
        seen: dict[int, Param] = {}
        for r in self.rows:
            if r.free and r.free not in seen:
                seen[r.free] = r
        return [seen[k] for k in sorted(seen)]


def _key(lhs: str, op: str, rhs: str) -> tuple[str, str, str]:
    if op == "~~" and rhs < lhs:
        return (rhs, op, lhs)
    return (lhs, op, rhs)


def build_partable(parsed: ParsedModel, *, std_lv: bool = False, meanstructure: bool = False,
                   fixed_x: bool = True) -> ParTable:
    """Turn parsed statements into a parameter table with lavaan's defaults."""
    latent: list[str] = []
    for st in parsed.statements:
        if st.op == "=~":
            for name in st.lhs:
                if name not in latent:
                    latent.append(name)
    names: list[str] = []
    for st in parsed.statements:
        for name in (*st.lhs, *(t.name for t in st.rhs)):
            if name not in names:
                names.append(name)
    observed = [n for n in names if n not in latent]

    indicators: set[str] = set()
    regressed: set[str] = set()
    predictors: set[str] = set()
    for st in parsed.statements:
        if st.op == "=~":
            indicators.update(t.name for t in st.rhs)
        elif st.op == "~":
            regressed.update(st.lhs)
            predictors.update(t.name for t in st.rhs)
    endogenous = indicators | regressed
    exo_obs = [n for n in observed if n in predictors and n not in endogenous]
    exo_x = exo_obs if fixed_x else []

    rows: dict[tuple[str, str, str], Param] = {}
    where: dict[tuple[str, str, str], tuple[int, int]] = {}
    first_done: set[str] = set()
    for st in parsed.statements:
        for lhs in st.lhs:
            for t in st.rhs:
                if st.op == "~~" and lhs in exo_x and t.name in exo_x:
                    continue  # fixed.x block comes from the sample
                key = _key(lhs, st.op, t.name)
                if key in rows:
                    raise ModelSyntaxError(f"parameter '{lhs} {st.op} {t.name}' is specified twice "
                                           f"(first on line {where[key][0]})", t.line, t.col)
                if st.op == "~" and lhs == t.name:
                    raise ModelSyntaxError(f"'{lhs}' cannot be regressed on itself", t.line, t.col)
                is_first = st.op == "=~" and lhs not in first_done
                if st.op == "=~":
                    first_done.add(lhs)
                if t.fixed is not None:
                    free, value = False, t.fixed
                elif t.free:
                    free, value = True, 1.0 if st.op == "=~" else 0.0
                elif is_first and not std_lv:
                    free, value = False, 1.0
                else:
                    free, value = True, 0.0
                rows[key] = Param(lhs, st.op, t.name, t.label or "", int(free), value, True)
                where[key] = (t.line, t.col)

    def add(lhs: str, op: str, rhs: str, *, free: bool, value: float = 0.0, exo: bool = False) -> None:
        key = _key(lhs, op, rhs)
        if key not in rows:
            rows[key] = Param(lhs, op, rhs, "", int(free), value, False, exo)

    for v in observed:
        if v not in exo_x:
            add(v, "~~", v, free=True)
    for f in latent:
        add(f, "~~", f, free=not std_lv, value=1.0)
    exo_lv = [f for f in latent if f not in endogenous]
    for i, a in enumerate(exo_lv):
        for b in exo_lv[i + 1:]:
            add(a, "~~", b, free=True)
    for i, a in enumerate(exo_x):
        for b in exo_x[i:]:
            add(a, "~~", b, free=False, exo=True)
    if not fixed_x:
        for i, a in enumerate(exo_obs):
            for b in exo_obs[i + 1:]:
                add(a, "~~", b, free=True)
    pure_y_ov = [v for v in observed if v in regressed and v not in predictors and v not in indicators]
    pure_y_lv = [f for f in latent if f in regressed and f not in predictors and f not in indicators]
    for group in (pure_y_ov, pure_y_lv):
        for i, a in enumerate(group):
            for b in group[i + 1:]:
                add(a, "~~", b, free=True)
    if meanstructure:
        for v in observed:
            add(v, "~1", "", free=v not in exo_x)

    # number the free parameters; shared labels share an index (equality constraints)
    out: list[Param] = []
    by_label: dict[str, int] = {}
    n = 0
    for r in rows.values():
        if r.free:
            if r.label and r.label in by_label:
                idx = by_label[r.label]
            else:
                n += 1
                idx = n
                if r.label:
                    by_label[r.label] = idx
            r = Param(r.lhs, r.op, r.rhs, r.label, idx, r.value, r.user, r.exo)  # dataclasses.replace is slow
        out.append(r)
    labels = {r.label for r in out if r.label}
    for d in parsed.definitions:
        if d.name in labels or d.name in names:
            raise ModelSyntaxError(f"defined parameter '{d.name}' clashes with a label or variable name",
                                   d.line, d.col)
    table = ParTable(tuple(out), tuple(observed), tuple(latent), tuple(exo_x), parsed.definitions)
    check_structure(table)
    return table


def check_structure(pt: ParTable) -> None:
    """Structural identification checks that need no data."""
    for f in pt.latent:
        loads = [r for r in pt.rows if r.op == "=~" and r.lhs == f]
        if all(not r.free and r.value == 0.0 for r in loads):
            raise ModelIdentificationError(f"latent variable '{f}' has no indicators with non-zero loadings")
        if len(loads) == 1:
            x = loads[0].rhs
            resid = next((r for r in pt.rows if r.op == "~~" and r.lhs == x and r.rhs == x), None)
            var_f = next((r for r in pt.rows if r.op == "~~" and r.lhs == f and r.rhs == f), None)
            if resid is not None and resid.free and (loads[0].free or (var_f is not None and var_f.free)):
                raise ModelIdentificationError(
                    f"latent variable '{f}' has a single indicator ('{x}') and nothing else to identify it: "
                    f"fix its residual variance (e.g. '{x} ~~ 0*{x}') or add indicators")
    # cycles in regressions are allowed (non-recursive models) but a variable cannot be its own indicator
    for r in pt.rows:
        if r.op == "=~" and r.lhs == r.rhs:
            raise ModelIdentificationError(f"latent variable '{r.lhs}' cannot be its own indicator")
