"""Server-side inline SVG chart: findings per run date, stacked by rule, and a trend line of all
findings per date (no JavaScript, no CDN).

Drawn at its own pixel size (never scaled down), so its text stays at 13 px.
"""

from __future__ import annotations

from markupsafe import Markup, escape

PALETTE = ("#1f5fa8", "#c0392b", "#d68910", "#1e8449", "#7d3c98", "#148f77", "#a04000", "#5dade2")
OTHER_COLOUR = "#b3bcc6"
OTHER = "其他规则"


LINE_COLOUR = "#1d2733"


def stacked_bars(dates: list[str], counts: dict[str, dict[str, int]], names: dict[str, str],
                 *, totals: dict[str, int] | None = None, line_label: str = "", top: int = 8,
                 width: int = 1000, height: int = 280) -> Markup:
    """Stacked bars: one per run date, one colour per rule (the ``top`` largest; the rest grouped);
    ``totals`` (findings per date) as a line with dots, labelled ``line_label`` in the legend."""
    if not dates:
        return Markup('<p class="muted">尚无运行记录，暂无趋势图。</p>')
    rule_totals = {r: sum(v.values()) for r, v in counts.items()}
    ranked = sorted(rule_totals, key=lambda r: (-rule_totals[r], r))
    shown = ranked[:top]
    series: list[tuple[str, str, dict[str, int]]] = [
        (r, f"{names.get(r, r)}（{r}）", counts[r]) for r in shown]
    rest = ranked[top:]
    if rest:
        merged: dict[str, int] = {}
        for r in rest:
            for d, n in counts[r].items():
                merged[d] = merged.get(d, 0) + n
        series.append((OTHER, f"{OTHER}（{len(rest)}项）", merged))

    left, right, top_pad, bottom = 56, 16, 16, 50
    plot_w, plot_h = width - left - right, height - top_pad - bottom
    day_totals = [sum(s[2].get(d, 0) for s in series) for d in dates]
    peak = max(day_totals + [(totals or {}).get(d, 0) for d in dates]) or 1
    step = _nice_step(peak)
    ymax = step * -(-peak // step)
    slot = plot_w / len(dates)
    bar_w = max(2.0, min(36.0, slot * 0.7))

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" '
             f'viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
             f'aria-label="每日问题数量（按规则）及趋势">']
    for i in range(0, ymax + 1, step):
        y = top_pad + plot_h - plot_h * i / ymax
        parts.append(f'<line x1="{left}" x2="{width - right}" y1="{y:.1f}" y2="{y:.1f}" class="grid"/>'
                     f'<text x="{left - 6}" y="{y + 4:.1f}" class="axis" text-anchor="end">{i}</text>')
    label_every = max(1, round(len(dates) / 10))
    for di, d in enumerate(dates):
        x = left + slot * di + (slot - bar_w) / 2
        y = top_pad + plot_h
        for si, (_key, label, values) in enumerate(series):
            n = values.get(d, 0)
            if not n:
                continue
            h = plot_h * n / ymax
            y -= h
            parts.append(f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar_w:.1f}" height="{h:.1f}" '
                         f'fill="{_colour(si, _key)}">'
                         f'<title>{escape(d)} {escape(label)}：{n}</title></rect>')
        if di % label_every == 0 or di == len(dates) - 1:
            cx = left + slot * di + slot / 2
            parts.append(f'<text x="{cx:.1f}" y="{top_pad + plot_h + 18}" class="axis" '
                         f'text-anchor="middle">{escape(d[5:])}</text>')
    if totals is not None:
        points = [(left + slot * di + slot / 2, top_pad + plot_h - plot_h * totals.get(d, 0) / ymax)
                  for di, d in enumerate(dates)]
        parts.append(f'<polyline class="trend" fill="none" stroke="{LINE_COLOUR}" stroke-width="2" '
                     f'points="{" ".join(f"{x:.1f},{y:.1f}" for x, y in points)}"/>')
        parts += [f'<circle class="trend-dot" cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{LINE_COLOUR}">'
                  f'<title>{escape(d)} {escape(line_label)}：{totals.get(d, 0)}</title></circle>'
                  for (x, y), d in zip(points, dates, strict=True)]
    parts.append(f'<text x="{left}" y="{height - 8}" class="axis">运行日期（{escape(dates[0])} 至 '
                 f'{escape(dates[-1])}），纵轴：当日存在的问题数</text>')
    parts.append("</svg>")
    legend = "".join(
        f'<li><svg class="swatch" width="12" height="12" aria-hidden="true"><rect width="12" height="12" '
        f'fill="{_colour(i, _k)}"/></svg>{escape(label)}</li>'
        for i, (_k, label, _v) in enumerate(series))
    if totals is not None:
        legend += (f'<li class="trend"><svg class="swatch" width="18" height="12" aria-hidden="true">'
                   f'<line x1="0" x2="18" y1="6" y2="6" stroke="{LINE_COLOUR}" stroke-width="2"/></svg>'
                   f'{escape(line_label)}</li>')
    # Every interpolated text above went through escape(); the rest is numbers and constants.
    return Markup('<div class="chart-scroll">' + "".join(parts)  # noqa: S704
                  + f'</div><ul class="legend">{legend}</ul>')


def _nice_step(peak: int) -> int:
    for step in (1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000, 2000, 2500, 5000, 10000,
                 20000, 50000, 100000):
        if peak / step <= 5:
            return step
    return 10 ** len(str(peak))


def _colour(index: int, key: str) -> str:
    return OTHER_COLOUR if key == OTHER else PALETTE[index % len(PALETTE)]
