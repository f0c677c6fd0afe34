"""Server-side chart geometry: numbers in, coordinates out, drawn as SVG by templates."""

from __future__ import annotations

WIDTH, HEIGHT, PAD = 480, 160, 28


def reading(alpha: float | None) -> str:
    """Krippendorff's reading bands, in words."""
    if alpha is None:
        return "undefined"
    if alpha >= 0.800:
        return "reliable"
    if alpha >= 0.667:
        return "tentative"
    return "not reliable"


def trend(points: list[tuple[str, float | None]]) -> dict:
    """A line over time of alpha in -1..1 (undefined points are skipped)."""
    defined = [(label, v) for label, v in points if v is not None]
    if not defined:
        return {"points": "", "dots": [], "width": WIDTH, "height": HEIGHT}
    n = len(defined)
    step = (WIDTH - 2 * PAD) / max(n - 1, 1)
    lo = min(0.0, min(v for _, v in defined))

    def y(v: float) -> float:
        return round(PAD + (1.0 - v) / (1.0 - lo) * (HEIGHT - 2 * PAD), 1) if lo < 1 else PAD

    dots = [
        {"x": round(PAD + i * step, 1), "y": y(v), "value": round(v, 3), "label": label}
        for i, (label, v) in enumerate(defined)
    ]
    return {
        "points": " ".join(f"{d['x']},{d['y']}" for d in dots),
        "dots": dots,
        "width": WIDTH,
        "height": HEIGHT,
        "y_reliable": y(0.8),
        "y_tentative": y(0.667),
        "y_top": y(1.0),
        "y_bottom": y(lo),
        "lo": round(lo, 2),
    }


def bars(distribution: list[dict]) -> dict:
    items = [(str(d["value"]), d["count"]) for d in distribution]
    top = max((c for _, c in items), default=0) or 1
    row = 22
    return {
        "height": row * len(items) + 4,
        "width": WIDTH,
        "bars": [
            {
                "label": label,
                "count": count,
                "y": i * row,
                "w": round((WIDTH - 200) * count / top, 1),
            }
            for i, (label, count) in enumerate(items)
        ],
    }


def heatmap(names: list[str], matrix: list[list[float | None]]) -> dict:
    """Cells with their number; the shade is a second cue, never the only one."""
    cell = 46
    label_w = 110
    cells = []
    for i, row in enumerate(matrix):
        for j, value in enumerate(row):
            shade = 95 if value is None else round(95 - 55 * max(0.0, min(1.0, value)))
            cells.append(
                {
                    "x": label_w + j * cell,
                    "y": 20 + i * cell,
                    "value": "-" if value is None or i == j else f"{value:.2f}",
                    "fill": f"hsl(210, 60%, {shade}%)" if i != j else "#eee",
                    "dark": value is not None and value > 0.7 and i != j,
                }
            )
    return {
        "size": cell,
        "width": label_w + cell * len(names) + 4,
        "height": 24 + cell * len(names) + 90,
        "rows": [{"name": n, "y": 20 + i * cell + cell / 2} for i, n in enumerate(names)],
        "cols": [{"name": n, "x": label_w + i * cell + cell / 2} for i, n in enumerate(names)],
        "cells": cells,
        "label_w": label_w,
        "bottom": 24 + cell * len(names),
    }
