"""The charts built-in tests draw: PNG bytes from matplotlib's Agg canvas.

Figures are made with `matplotlib.figure.Figure` and an Agg canvas directly, not through pyplot,
so no global figure state is shared between the threads of a server or the tests of a run.
No CJK font is installed, so every string drawn goes through `ascii_label` first: a class named
in Chinese is drawn as "class 3" rather than as a row of empty boxes.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

DPI = 100


def ascii_label(text: object, fallback: str) -> str:
    """`text` when it is printable ASCII, else `fallback` (charts have no font for other scripts)."""
    value = str(text)
    return value if value.isascii() and value.isprintable() else fallback


def class_labels(classes: Sequence[str]) -> list[str]:
    return [ascii_label(name, f"class {index}") for index, name in enumerate(classes)]


def _figure(width: float, height: float) -> Figure:
    figure = Figure(figsize=(width, height), dpi=DPI)
    FigureCanvasAgg(figure)
    return figure


def _png(figure: Figure) -> bytes:
    buffer = io.BytesIO()
    figure.tight_layout()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


def bar_chart(
    categories: Sequence[str], series: Mapping[str, Sequence[float | None]], *, title: str, ylabel: str = "",
    ylim: tuple[float, float] | None = None,
) -> bytes:
    """Grouped bars: one group per category, one bar per series (None draws no bar)."""
    names = [ascii_label(c, f"group {i}") for i, c in enumerate(categories)]
    figure = _figure(min(10.0, max(5.0, 0.25 * len(names) * max(1, len(series)) + 3)), 3.6)
    axes = figure.add_subplot()
    width = 0.8 / max(1, len(series))
    positions = np.arange(len(names))
    for offset, (label, values) in enumerate(series.items()):
        heights = [np.nan if v is None else float(v) for v in values]
        axes.bar(positions + (offset - (len(series) - 1) / 2) * width, heights, width, label=ascii_label(label, f"series {offset}"))
    axes.set_xticks(positions, names, rotation=30 if len(names) > 4 else 0, ha="right" if len(names) > 4 else "center")
    axes.set_title(ascii_label(title, "chart"))
    axes.set_ylabel(ascii_label(ylabel, ""))
    if ylim is not None:
        axes.set_ylim(*ylim)
    if len(series) > 1:
        axes.legend(fontsize="small")
    axes.grid(axis="y", alpha=0.3)
    return _png(figure)


def confusion_matrix_chart(matrix: Sequence[Sequence[int]], classes: Sequence[str], *, title: str = "Confusion matrix") -> bytes:
    """A heatmap of counts, true classes down the side and predicted ones along the bottom."""
    counts = np.asarray(matrix)
    names = class_labels(classes)
    size = min(12.0, 2.5 + 0.45 * len(names))
    figure = _figure(size + 1, size)
    axes = figure.add_subplot()
    image = axes.imshow(counts, cmap="Blues")
    figure.colorbar(image, ax=axes, fraction=0.046, pad=0.04)
    ticks = np.arange(len(names))
    axes.set_xticks(ticks, names, rotation=45 if len(names) > 3 else 0, ha="right" if len(names) > 3 else "center")
    axes.set_yticks(ticks, names)
    axes.set_xlabel("Predicted")
    axes.set_ylabel("True")
    axes.set_title(ascii_label(title, "Confusion matrix"))
    if len(names) <= 20:  # beyond that the numbers would not fit in their cells
        threshold = counts.max() / 2 if counts.size else 0
        for (row, column), value in np.ndenumerate(counts):
            axes.text(column, row, str(int(value)), ha="center", va="center", fontsize=8,
                      color="white" if value > threshold else "black")
    return _png(figure)


def reliability_diagram(
    confidence: Sequence[float | None], accuracy: Sequence[float | None], counts: Sequence[int], *,
    ece: float, title: str = "Reliability diagram",
) -> bytes:
    """Accuracy against mean confidence per equal-width confidence bin, with the diagonal of perfect calibration."""
    bins = len(counts)
    edges = np.linspace(0.0, 1.0, bins + 1)
    centres = (edges[:-1] + edges[1:]) / 2
    heights = [np.nan if a is None else float(a) for a in accuracy]
    figure = _figure(5.0, 4.6)
    axes = figure.add_subplot()
    axes.bar(centres, heights, width=1.0 / bins, edgecolor="black", alpha=0.7, label="accuracy")
    shown = [(c, float(v)) for c, v, n in zip(centres, confidence, counts, strict=True) if n and v is not None]
    if shown:
        axes.plot([c for c, _ in shown], [v for _, v in shown], "o", color="tab:red", label="mean confidence")
    axes.plot([0, 1], [0, 1], "--", color="gray", label="perfect calibration")
    axes.set_xlim(0, 1)
    axes.set_ylim(0, 1)
    axes.set_xlabel("Confidence (max probability)")
    axes.set_ylabel("Accuracy")
    axes.set_title(f"{ascii_label(title, 'Reliability diagram')} (ECE {ece:.3f})")
    axes.legend(fontsize="small", loc="upper left")
    return _png(figure)


def roc_chart(fpr: Sequence[float], tpr: Sequence[float], *, auc: float, title: str = "ROC curve") -> bytes:
    figure = _figure(4.8, 4.6)
    axes = figure.add_subplot()
    axes.plot(fpr, tpr, color="tab:blue", label=f"AUC {auc:.3f}")
    axes.plot([0, 1], [0, 1], "--", color="gray", label="chance")
    axes.set_xlim(0, 1)
    axes.set_ylim(0, 1.01)
    axes.set_xlabel("False positive rate")
    axes.set_ylabel("True positive rate")
    axes.set_title(ascii_label(title, "ROC curve"))
    axes.legend(fontsize="small", loc="lower right")
    return _png(figure)
