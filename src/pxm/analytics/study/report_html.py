"""Self-contained HTML rendering of a study report: one file, inline CSS and SVG, no network fetches."""

from __future__ import annotations

from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape

from pxm.analytics.study.diagram import stars
from pxm.analytics.study.report_text import fmt

__all__ = ["render_html", "bar_chart_svg"]

_env = Environment(loader=PackageLoader("pxm.analytics.study", "templates"),
                   autoescape=select_autoescape(["html"]), trim_blocks=True, lstrip_blocks=True)
_env.filters["fmt"] = fmt
_env.filters["stars"] = stars


def bar_chart_svg(labels: list[str], values: list[float], *, title: str, threshold: float | None = None,
                  vmax: float = 1.0) -> str:
    """A small horizontal bar chart as inline SVG (used for loadings and betas)."""
    bar_h, left, width = 18, 70, 420
    height = 28 + bar_h * len(labels)
    scale = (width - left - 50) / vmax
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="{width}" '
           f'height="{height}" role="img" aria-label="{title}" font-family="Helvetica, Arial, sans-serif" '
           'font-size="11">', f'<text x="0" y="12" font-weight="bold">{title}</text>']
    for i, (lab, v) in enumerate(zip(labels, values, strict=True)):
        y = 20 + i * bar_h
        w = max(v, 0) * scale
        colour = "#c62828" if threshold is not None and v < threshold else "#1565c0"
        out.append(f'<text x="{left - 6}" y="{y + 12}" text-anchor="end">{lab}</text>')
        out.append(f'<rect x="{left}" y="{y + 2}" width="{w:.1f}" height="{bar_h - 5}" fill="{colour}"/>')
        out.append(f'<text x="{left + w + 4:.1f}" y="{y + 12}">{v:.3f}</text>')
    if threshold is not None:
        x = left + threshold * scale
        out.append(f'<line x1="{x:.1f}" y1="18" x2="{x:.1f}" y2="{height - 4}" stroke="#c62828" '
                   'stroke-dasharray="3 3"/>')
    out.append("</svg>")
    return "\n".join(out)


def render_html(content: dict[str, Any]) -> str:
    items = [it for m in content["measurement"] for it in m["items"]]
    loadings_svg = bar_chart_svg([it["item"] for it in items], [it["loading"] for it in items],
                                 title="Standardized loadings (line at 0.70)", threshold=0.70)
    hyp = [h for h in content["hypotheses"] if h["beta"] is not None]
    betas_svg = bar_chart_svg([h["from"] for h in hyp], [h["beta"] for h in hyp],
                              title="Standardized path coefficients", vmax=max([0.5] + [h["beta"] for h in hyp]))
    template = _env.get_template("report.html")
    html = template.render(c=content, loadings_svg=loadings_svg, betas_svg=betas_svg,
                           diagram_svg=content["diagram_svg"])
    # inline SVG needs no namespace declaration in HTML5; dropping it keeps the file free of any URL
    return html.replace(' xmlns="http://www.w3.org/2000/svg"', "")
