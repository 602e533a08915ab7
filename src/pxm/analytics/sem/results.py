"""The frozen result value: ``SEMResult`` with ``to_dict()`` and ``summary()``."""

from __future__ import annotations

import html
import math
from dataclasses import dataclass, field
from typing import Any

ENGINE_VERSION = "pxm-sem 0.1.0"

FIT_ORDER = ("npar", "chisq", "df", "pvalue", "chisq_scaled", "df_scaled", "pvalue_scaled",
             "chisq_scaling_factor", "baseline_chisq", "baseline_df", "baseline_pvalue", "cfi", "tli",
             "cfi_scaled", "tli_scaled", "cfi_robust", "tli_robust", "nfi", "rfi", "ifi", "pnfi", "logl",
             "unrestricted_logl", "aic", "bic", "bic2", "rmsea", "rmsea_ci_lower", "rmsea_ci_upper",
             "rmsea_pvalue", "rmsea_notclose_pvalue", "rmsea_scaled", "rmsea_ci_lower_scaled",
             "rmsea_ci_upper_scaled", "rmsea_pvalue_scaled", "rmsea_robust", "rmsea_ci_lower_robust",
             "rmsea_ci_upper_robust", "rmsea_pvalue_robust", "rmr", "srmr", "gfi", "agfi", "pgfi")


def clean(x: Any) -> Any:
    """JSON-safe copy: plain floats, NaN/inf -> None, tuples -> lists."""
    t = type(x)  # exact-type fast paths first: a report holds thousands of plain floats
    if t is float:
        return x if math.isfinite(x) else None
    if t is str or t is int or t is bool or x is None:
        return x
    if t is dict:
        return {k if type(k) is str else str(k): clean(v) for k, v in x.items()}
    if t is list or t is tuple:
        return [clean(v) for v in x]
    if isinstance(x, dict):
        return {str(k): clean(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [clean(v) for v in x]
    if isinstance(x, bool) or x is None or isinstance(x, str):
        return x
    if hasattr(x, "tolist"):
        return clean(x.tolist())
    if isinstance(x, int):
        return x
    if isinstance(x, float):
        return x if math.isfinite(x) else None
    try:
        f = float(x)
    except (TypeError, ValueError):
        return str(x)
    return f if math.isfinite(f) else None


@dataclass(frozen=True)
class SEMResult:
    converged: bool
    n_obs: int
    estimator: str
    missing: str
    model: str
    fit: dict[str, float]
    parameters: tuple[dict[str, Any], ...]
    r2: dict[str, float]
    reliability: dict[str, Any]
    modification_indices: tuple[dict[str, Any], ...]
    warnings: tuple[str, ...]
    observed_names: tuple[str, ...]
    latent_names: tuple[str, ...]
    latent_correlations: tuple[tuple[float, ...], ...]
    residual_correlations: tuple[tuple[float, ...], ...]
    defined: dict[str, dict[str, float]]
    iterations: int
    bootstrap: dict[str, Any] | None = None
    extras: dict[str, Any] = field(default_factory=dict)

    # -- lookups ---------------------------------------------------------------------------------------
    def param(self, lhs: str, op: str, rhs: str) -> dict[str, Any]:
        """The parameter row ``lhs op rhs`` (for ~~ either order)."""
        for r in self.parameters:
            if r["op"] == op and ((r["lhs"], r["rhs"]) == (lhs, rhs) or (op == "~~" and (r["rhs"], r["lhs"]) == (lhs, rhs))):
                return r
        raise KeyError(f"{lhs} {op} {rhs}")

    def latent_correlation(self, a: str, b: str) -> float:
        i, j = self.latent_names.index(a), self.latent_names.index(b)
        return self.latent_correlations[i][j]

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "engine_version": ENGINE_VERSION,
            "converged": self.converged,
            "n_obs": self.n_obs,
            "estimator": self.estimator,
            "missing": self.missing,
            "iterations": self.iterations,
            "fit": self.fit,
            "parameters": list(self.parameters),
            "defined": self.defined,
            "r2": self.r2,
            "reliability": self.reliability,
            "modification_indices": list(self.modification_indices),
            "implied_latent_correlations": {"names": list(self.latent_names),
                                            "matrix": self.latent_correlations},
            "residual_correlations": {"names": list(self.observed_names), "matrix": self.residual_correlations},
            "bootstrap": self.bootstrap,
            "warnings": list(self.warnings),
        }
        d.update(self.extras)
        return clean(d)

    # -- rendering -------------------------------------------------------------------------------------
    def _tables(self) -> list[tuple[str, list[str], list[list[str]]]]:
        def f(x: Any, nd: int = 3) -> str:
            if x is None or (isinstance(x, float) and not math.isfinite(x)):
                return ""
            if isinstance(x, float):
                return f"{x:.{nd}f}"
            return str(x)

        tables: list[tuple[str, list[str], list[list[str]]]] = []
        fit_rows = [[k, f(self.fit[k])] for k in FIT_ORDER if k in self.fit]
        tables.append(("Fit measures", ["measure", "value"], fit_rows))
        boot = self.bootstrap is not None
        head = ["lhs", "op", "rhs", "label", "est", "se", "z", "pvalue", "ci_lower", "ci_upper", "std_all"]
        if boot:
            head += ["boot_ci_lower", "boot_ci_upper"]
        rows = []
        for r in self.parameters:
            row = [r["lhs"], r["op"], r["rhs"], r.get("label") or "", f(r["est"]), f(r["se"]), f(r["z"]),
                   f(r["pvalue"]), f(r["ci_lower"]), f(r["ci_upper"]), f(r.get("std_all"))]
            if boot:
                row += [f(r.get("boot_ci_lower")), f(r.get("boot_ci_upper"))]
            rows.append(row)
        tables.append(("Parameter estimates", head, rows))
        tables.append(("R-square", ["variable", "r2"], [[k, f(v)] for k, v in self.r2.items()]))
        rel = self.reliability.get("factors", {})
        tables.append(("Reliability", ["factor", "alpha", "omega", "ave"],
                       [[k, f(v["alpha"]), f(v["omega"]), f(v["ave"])] for k, v in rel.items()]))
        scaled = any("mi_scaled" in m for m in self.modification_indices)
        mi = [[m["lhs"], m["op"], m["rhs"], f(m["mi"]), *([f(m.get("mi_scaled"))] if scaled else []), f(m["epc"]),
               f(m["sepc_all"])] for m in self.modification_indices[:10]]
        tables.append(("Modification indices (top 10)",
                       ["lhs", "op", "rhs", "mi", *(["mi_scaled"] if scaled else []), "epc", "sepc_all"], mi))
        return tables

    def summary(self, fmt: str = "text") -> str:
        title = (f"PXM SEM ({ENGINE_VERSION}) estimator={self.estimator} missing={self.missing} "
                 f"N={self.n_obs} converged={self.converged} iterations={self.iterations}")
        tables = self._tables()
        if fmt == "html":
            parts = [f"<div class='pxm-sem'><p>{html.escape(title)}</p>"]
            for name, head, rows in tables:
                parts.append(f"<h3>{html.escape(name)}</h3><table><thead><tr>"
                             + "".join(f"<th>{html.escape(h)}</th>" for h in head) + "</tr></thead><tbody>")
                for row in rows:
                    parts.append("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>")
                parts.append("</tbody></table>")
            if self.warnings:
                parts.append("<h3>Warnings</h3><ul>" + "".join(f"<li>{html.escape(w)}</li>" for w in self.warnings)
                             + "</ul>")
            parts.append("</div>")
            return "".join(parts)
        if fmt != "text":
            raise ValueError("fmt must be 'text' or 'html'")
        out = [title, ""]
        for name, head, rows in tables:
            widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(head)]
            out.append(name)
            out.append("  ".join(h.rjust(w) for h, w in zip(head, widths, strict=True)))
            for r in rows:
                out.append("  ".join(c.rjust(w) for c, w in zip(r, widths, strict=True)))
            out.append("")
        if self.warnings:
            out.append("Warnings")
            out.extend(f"  - {w}" for w in self.warnings)
        return "\n".join(out)
