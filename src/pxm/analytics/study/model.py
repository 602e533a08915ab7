"""Build the lavaan-syntax structural equation model of an instrument.

Measurement part: one reflective factor per construct (``PPE =~ PPE1 + PPE2 + ...``). Structural part: the
outcome construct regressed on every practice, each path labelled with its hypothesis (``BP ~ H1*PPE + ...``).
Covariances among the practices are written out so the model does not depend on engine defaults.
"""

from __future__ import annotations

from typing import Any

from pxm.analytics.study.instruments import construct_items, outcome_construct, practice_constructs

__all__ = ["build_syntax", "count_free_parameters", "degrees_of_freedom"]


def build_syntax(instrument: dict[str, Any]) -> str:
    groups = construct_items(instrument)
    outcome = outcome_construct(instrument)
    practices = practice_constructs(instrument)
    lines = ["# measurement model"]
    lines += [f"{c} =~ {' + '.join(items)}" for c, items in groups.items()]
    lines.append("# structural model (hypotheses)")
    label = {h["from"]: h["code"] for h in instrument["hypotheses"] if h["to"] == outcome}
    terms = [f"{label[p]}*{p}" if p in label else p for p in practices]
    lines.append(f"{outcome} ~ {' + '.join(terms)}")
    lines.append("# covariances among the practices")
    for i, a in enumerate(practices):
        for b in practices[i + 1:]:
            lines.append(f"{a} ~~ {b}")
    return "\n".join(lines) + "\n"


def count_free_parameters(instrument: dict[str, Any]) -> int:
    """Free parameters of :func:`build_syntax`'s model with marker-variable identification.

    loadings (items - factors) + residual variances (items) + practice variances and covariances
    (k(k+1)/2) + paths (k) + outcome residual variance (1).
    """
    groups = construct_items(instrument)
    n_items = sum(len(v) for v in groups.values())
    k = len(practice_constructs(instrument))
    return (n_items - len(groups)) + n_items + k * (k + 1) // 2 + k + 1


def degrees_of_freedom(instrument: dict[str, Any]) -> int:
    """Moments p(p+1)/2 minus free parameters."""
    p = sum(len(v) for v in construct_items(instrument).values())
    return p * (p + 1) // 2 - count_free_parameters(instrument)
