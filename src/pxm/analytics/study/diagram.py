"""Path diagram of the structural model as inline SVG, drawn by PXM (no external binary, no network)."""

from __future__ import annotations

from html import escape
from typing import Any

from pxm.analytics.study.instruments import outcome_construct

__all__ = ["path_diagram_svg", "stars"]


def stars(p: float | None) -> str:
    if p is None:
        return ""
    return "***" if p < 0.001 else "**" if p < 0.01 else "*" if p < 0.05 else ""


def path_diagram_svg(hypotheses: list[dict[str, Any]], r2: float | None, instrument: dict[str, Any]) -> str:
    """Practice ovals on the left, the outcome oval on the right, arrows labelled with beta and stars."""
    names = {c["code"]: c["name"]["en"] for c in instrument["constructs"]}
    outcome = outcome_construct(instrument)
    width, row_h, top = 760, 92, 30
    height = top * 2 + row_h * max(len(hypotheses), 1)
    lx, rx, rw, rh = 150, 620, 125, 34
    oy = height / 2
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="{width}" '
        f'height="{height}" role="img" aria-label="Path diagram: practices to {escape(names[outcome])}" '
        'font-family="Helvetica, Arial, sans-serif" font-size="13">',
        "<defs><marker id=\"arrow\" viewBox=\"0 0 10 10\" refX=\"10\" refY=\"5\" markerWidth=\"8\" "
        "markerHeight=\"8\" orient=\"auto-start-reverse\"><path d=\"M 0 0 L 10 5 L 0 10 z\" fill=\"#333\"/>"
        "</marker></defs>",
    ]
    for i, h in enumerate(hypotheses):
        y = top + row_h * i + row_h / 2
        # arrow from the right edge of the practice oval to the left edge of the outcome oval
        x1, y1, x2, y2 = lx + rw, y, rx - rw - 4, oy + (y - oy) * 0.25
        supported = h.get("supported")
        style = 'stroke="#1b5e20" stroke-width="2.2"' if supported else \
            'stroke="#9e9e9e" stroke-width="1.6" stroke-dasharray="6 4"'
        parts.append(f'<line x1="{x1:.1f}" y1="{y1:.1f}" x2="{x2:.1f}" y2="{y2:.1f}" {style} '
                     'marker-end="url(#arrow)"/>')
        beta = h.get("beta")
        label = "n/a" if beta is None else f"\u03b2 = {beta:.3f}{stars(h.get('pvalue'))}"
        mx, my = x1 + (x2 - x1) * 0.4, y1 + (y2 - y1) * 0.4 - 7
        parts.append(f'<text x="{mx:.1f}" y="{my:.1f}" text-anchor="middle" font-weight="bold" '
                     'paint-order="stroke" stroke="#ffffff" stroke-width="4" '
                     f'fill="{"#1b5e20" if supported else "#616161"}">{escape(h["hypothesis"])}: {escape(label)}</text>')
        parts.append(f'<ellipse cx="{lx}" cy="{y:.1f}" rx="{rw}" ry="{rh}" fill="#e3f2fd" stroke="#1565c0" '
                     'stroke-width="1.5"/>')
        parts.append(f'<text x="{lx}" y="{y - 3:.1f}" text-anchor="middle" font-weight="bold">{escape(h["from"])}</text>')
        parts.append(f'<text x="{lx}" y="{y + 13:.1f}" text-anchor="middle" font-size="11">'
                     f'{escape(names.get(h["from"], ""))}</text>')
    parts.append(f'<ellipse cx="{rx}" cy="{oy:.1f}" rx="{rw}" ry="{rh + 8}" fill="#fff3e0" stroke="#e65100" '
                 'stroke-width="1.8"/>')
    parts.append(f'<text x="{rx}" y="{oy - 6:.1f}" text-anchor="middle" font-weight="bold">{escape(outcome)}</text>')
    parts.append(f'<text x="{rx}" y="{oy + 10:.1f}" text-anchor="middle" font-size="11">'
                 f'{escape(names[outcome])}</text>')
    if r2 is not None:
        parts.append(f'<text x="{rx}" y="{oy + 26:.1f}" text-anchor="middle">R\u00b2 = {r2:.3f}</text>')
    parts.append(f'<text x="10" y="{height - 8}" font-size="11" fill="#555">*** p &lt; .001, ** p &lt; .01, '
                 '* p &lt; .05; solid = supported, dashed = not supported; betas standardized</text>')
    parts.append("</svg>")
    return "\n".join(parts)
