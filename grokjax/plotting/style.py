"""What every figure shares: a log step axis, log axes whose tick labels do not collide, titles
that fit their figure, and saving with nothing clipped."""
from __future__ import annotations

import textwrap

import matplotlib

matplotlib.use("Agg")  # files only; never needs a display
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib import ticker  # noqa: E402


def log_step_axis(ax, steps, label: str = "step") -> None:
    """Training steps on a log axis, as grokking curves are read (the late jump is a decade away).

    Symlog, linear below the first evaluation after step 0, so that step 0 is still drawn.
    """
    steps = np.asarray(steps, float)
    positive = steps[steps > 0]
    first = float(positive.min()) if positive.size else 1.0
    last = max(float(steps.max()), first) if steps.size else 1.0
    ax.set_xscale("symlog", linthresh=first, linscale=0.5)
    ax.set_xlim(min(0.0, float(steps.min())) if steps.size else 0.0, last)
    # Ticks at 0 and at the powers of 10 past the linear part (symlog's own put 10 next to 0); on a
    # short axis (evaluations every few hundred steps) also at 2x and 5x, labelled as plain numbers.
    decades = 10.0 ** np.arange(np.ceil(np.log10(first)), np.floor(np.log10(last)) + 1)
    if len(decades) >= 2:
        ax.xaxis.set_major_locator(ticker.FixedLocator([0.0, *decades]))
        ax.xaxis.set_major_formatter(ticker.FuncFormatter(
            lambda v, _: "0" if v == 0 else f"$10^{{{np.log10(v):.0f}}}$"))
    else:
        nice = np.outer(10.0 ** np.arange(np.floor(np.log10(first)), np.ceil(np.log10(last)) + 1), [1, 2, 5]).ravel()
        ax.xaxis.set_major_locator(ticker.FixedLocator([0.0, *nice[(nice >= first) & (nice <= last)]]))
        ax.xaxis.set_major_formatter(ticker.FuncFormatter(lambda v, _: _number(v)))
    minor = np.outer(10.0 ** np.arange(np.floor(np.log10(first)), np.ceil(np.log10(last)) + 1), np.arange(2, 10))
    ax.xaxis.set_minor_locator(ticker.FixedLocator(minor[(minor > first) & (minor < last)]))
    ax.set_xlabel(label)


def tidy_log_ticks(ax, which: str) -> None:
    """Tick labels of a log axis that never overlap: plain numbers at 1-2-5 (or 1-3) per decade
    on a short axis, a few linear ticks within one decade, decades only on a long axis."""
    axis = ax.xaxis if which == "x" else ax.yaxis
    lo, hi = sorted(ax.get_xlim() if which == "x" else ax.get_ylim())
    if lo <= 0 or not np.isfinite(hi / lo):
        return
    decades = np.log10(hi / lo)
    plain = ticker.FuncFormatter(lambda v, _: _number(v))
    if decades < 0.7:  # within a decade: log ticks would be one or none
        axis.set_major_locator(ticker.MaxNLocator(nbins=4, steps=[1, 2, 5, 10]))
        axis.set_major_formatter(ticker.ScalarFormatter(useOffset=False, useMathText=True))  # as many digits as the ticks need
    elif decades < 3:
        axis.set_major_locator(ticker.LogLocator(base=10, subs=(1.0, 2.0, 5.0) if decades < 2 else (1.0, 3.0)))
        axis.set_major_formatter(plain)
    else:
        axis.set_major_locator(ticker.LogLocator(base=10))
        axis.set_major_formatter(ticker.LogFormatterSciNotation())
    axis.set_minor_formatter(ticker.NullFormatter())


def _number(v: float) -> str:
    """A tick label: plain digits from 0.001 to 1e6 (300, 0.02, 1.02e-02 -> 0.0102), else m x 10^e."""
    if v == 0 or 1e-3 <= abs(v) < 1e6:
        return f"{v:.3g}" if abs(v) < 1e3 else f"{v:.0f}"
    exponent = int(np.floor(np.log10(abs(v))))
    mantissa = float(f"{v / 10 ** exponent:.3g}")
    return rf"$10^{{{exponent}}}$" if mantissa == 1 else rf"${mantissa:g}\times10^{{{exponent}}}$"


def _wrap(text_artist, max_px: float, renderer) -> None:
    """Re-wraps a title at spaces until it is no wider than `max_px` (math text is left alone)."""
    text = text_artist.get_text()
    if not text or "$" in text or text_artist.get_window_extent(renderer).width <= max_px:
        return
    width = max(len(line) for line in text.splitlines())
    while width > 16:
        width = int(width * 0.9)
        text_artist.set_text("\n".join(textwrap.fill(line, width) for line in text.splitlines()))
        if text_artist.get_window_extent(renderer).width <= max_px:
            return


def _has_neighbour(ax, panels, renderer) -> bool:
    """Whether another panel sits beside `ax` (their titles would collide); twins and colorbars do not count."""
    box = ax.get_window_extent(renderer)
    for other in panels:
        o = other.get_window_extent(renderer)
        if other is not ax and (o.x0, o.x1) != (box.x0, box.x1) and o.y0 < box.y1 and box.y0 < o.y1:
            return True
    return False


def fit_titles(fig) -> None:
    """Every axes title fits its axes (the figure, where no panel is beside it); the figure title the figure."""
    renderer = fig.canvas.get_renderer()
    panels = [ax for ax in fig.axes if ax.get_label() != "<colorbar>" and ax.get_visible() and ax.axison]
    figure_width = 0.97 * fig.get_figwidth() * fig.dpi
    for ax in fig.axes:
        width = ax.get_window_extent(renderer).width if _has_neighbour(ax, panels, renderer) else figure_width
        for title in (ax.title, getattr(ax, "_left_title", None), getattr(ax, "_right_title", None)):
            if title is not None:  # the loc="left" / "right" titles are private attributes
                _wrap(title, width, renderer)
    if fig._suptitle is not None:
        _wrap(fig._suptitle, figure_width, renderer)


def finish(fig) -> None:
    """Titles wrapped to fit, log tick labels tidied; call once every axis is drawn on."""
    for ax in fig.axes:
        for which in ("x", "y"):
            if (ax.get_xscale() if which == "x" else ax.get_yscale()) == "log":
                tidy_log_ticks(ax, which)
    fit_titles(fig)


def save(fig, path: str, dpi: int = 120) -> None:
    """Writes the figure with its bounding box grown to every label (nothing clipped) and closes it."""
    fig.savefig(path, dpi=dpi, bbox_inches="tight", pad_inches=0.05)
    plt.close(fig)
