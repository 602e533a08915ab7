"""Plain-text rendering of a study report (the ``--format text`` output)."""

from __future__ import annotations

from typing import Any

from pxm.analytics.study.diagram import stars

__all__ = ["fmt", "render_text"]


def fmt(v: Any, digits: int = 3) -> str:
    if v is None:
        return "-"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return f"{v:.{digits}f}"
    return str(v)


def _table(headers: list[str], rows: list[list[Any]]) -> list[str]:
    cells = [[fmt(c) for c in r] for r in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) if cells else len(h) for i, h in enumerate(headers)]
    line = "  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True))
    out = [line, "-" * len(line)]
    out += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in cells]
    return out


def render_text(c: dict[str, Any]) -> str:
    meta = c["meta"]
    out = [f"CXM impact study - {meta['instrument']['title']} (instrument {meta['instrument']['code']} "
           f"v{meta['instrument']['version']})",
           f"n = {meta['n_obs']} complete of {meta['n_rows']} rows; engine {meta['engine']['version']}; "
           f"input sha256 {meta['input_fingerprint'][:16]}...", ""]
    out += ["Summary"] + [f"  - {s}" for s in c["summary"]] + [""]
    out.append("Table 1. Measurement model (standardized loadings; alpha, CR >= 0.70; AVE >= 0.50)")
    rows = []
    for m in c["measurement"]:
        for k, it in enumerate(m["items"]):
            first = k == 0
            rows.append([m["construct"] if first else "", it["item"], it["loading"], m["alpha"] if first else None,
                         m["cr"] if first else None, m["ave"] if first else None,
                         ("; ".join(m["flags"]) or "ok") if first else ""])
    out += _table(["Construct", "Item", "Loading", "Alpha", "CR", "AVE", "Flags"], rows) + [""]
    d = c["discriminant"]
    names = d["constructs"]
    out.append("Table 2a. Fornell-Larcker (sqrt AVE on the diagonal, latent correlations below)")
    out += _table([""] + names, [[n] + d["fornell_larcker"][i] + [None] * (len(names) - i - 1)
                                 for i, n in enumerate(names)])
    out.append("Table 2b. HTMT (problem at >= 0.85 strict, >= 0.90 liberal)")
    out += _table([""] + names, [[n] + d["htmt"][i][:-1] + ["-"] + [None] * (len(names) - i - 1)
                                 for i, n in enumerate(names)])
    out += [f"  ! {p}" for p in d["problems"]] + [""]
    out.append(f"Table 3. Model fit (overall: {c['fit']['overall']})")
    rows = []
    for r in c["fit"]["rows"]:
        value = fmt(r["value"], 0 if r["index"] == "df" else 3)
        if r["index"] == "rmsea" and r.get("ci_lower") is not None:
            value += f" [{fmt(r['ci_lower'])}, {fmt(r['ci_upper'])}]"
        rows.append([r["label"], value, r["threshold"], r["verdict"]])
    out += _table(["Index", "Value", "Threshold", "Verdict"], rows) + [""]
    out.append("Table 4. Hypotheses (beta standardized; SE, z, p of the unstandardized estimate b)")
    rows = []
    for h in c["hypotheses"]:
        ci = "-" if h["boot_ci_lower"] is None else f"[{h['boot_ci_lower']:.3f}, {h['boot_ci_upper']:.3f}]"
        rows.append([h["hypothesis"], h["path"], fmt(h["beta"]) + stars(h["pvalue"]), h["b"], h["se"], h["z"],
                     "<0.001" if h["pvalue"] is not None and h["pvalue"] < 0.001 else h["pvalue"], ci,
                     "supported" if h["supported"] else "not supported"])
    out += _table(["H", "Path", "Beta", "b", "SE", "z", "p", "Bootstrap 95% CI", "Result"], rows)
    r2 = c["r2"]
    out += ["", f"R-square of {r2['construct']}: {fmt(r2['value'])}"
            + (f" (bootstrap 95% CI [{r2['boot_ci'][0]:.3f}, {r2['boot_ci'][1]:.3f}])" if r2.get("boot_ci") else ""),
            "Practices ranked by effect: " + ", ".join(f"{r['rank']}. {r['practice']} ({r['beta']:.3f})"
                                                        for r in c["ranking"]), ""]
    out.append("Item descriptives (analysed rows)")
    out += _table(["Item", "n", "Mean", "SD", "Min", "Max", "Skew", "Kurtosis", "Missing"],
                  [[d["item"], d["n"], d["mean"], d["sd"], d["min"], d["max"], d["skew"], d["kurtosis"], d["missing"]]
                   for d in c["descriptives"]])
    miss = c["missing"]
    out += ["", f"Missing data: {miss['n_dropped']} of {miss['n_rows']} rows dropped ({miss['method']})"
            + (f"; rows {', '.join(map(str, miss['dropped_rows']))}" if miss["dropped_rows"] else "")]
    if miss["ignored_columns"]:
        out.append(f"Columns not used by the instrument: {', '.join(miss['ignored_columns'])}")
    if c["modification_indices"]:
        out += ["", "Top modification indices"]
        out += _table(["lhs", "op", "rhs", "MI", "EPC"], [[m["lhs"], m["op"], m["rhs"], m["mi"], m["epc"]]
                                                         for m in c["modification_indices"]])
    if c["warnings"]:
        out += ["", "Warnings"] + [f"  - {w}" for w in c["warnings"]]
    return "\n".join(out) + "\n"
