"""grokjax.plotting.style: what every figure shares (titles that fit, log step axes, tick labels that
do not collide, nothing clipped on save)."""
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from grokjax.plotting import omnigrok as omnigrok_plots  # noqa: E402
from grokjax.plotting.style import finish, log_step_axis, save  # noqa: E402


def _label_boxes(fig, axis):
    renderer = fig.canvas.get_renderer()
    ticks = axis.get_major_ticks() + axis.get_minor_ticks()
    return [t.label1.get_window_extent(renderer) for t in ticks if t.label1.get_visible() and t.label1.get_text()]


def _overlaps(boxes):
    boxes = sorted(boxes, key=lambda b: b.x0)
    return any(a.x1 > b.x0 for a, b in zip(boxes, boxes[1:]))


@pytest.mark.parametrize("lo, hi", [(0.2, 4.0), (0.25, 8.0), (0.1, 1.0), (1e-14, 10.0), (0.0102, 0.0104)])
def test_log_axis_tick_labels_do_not_overlap(lo, hi):
    fig, ax = plt.subplots(figsize=(4.6, 3.6))
    ax.plot([lo, hi], [lo, hi], "o")
    ax.set_xscale("log")
    finish(fig)
    fig.canvas.draw()
    boxes = _label_boxes(fig, ax.xaxis)
    assert len(boxes) >= 2 and not _overlaps(boxes)
    plt.close(fig)


def test_long_titles_are_wrapped_to_fit():
    """The figure title fits the figure, a panel's title its panel where another panel is beside it,
    and the figure where the panel is alone in its row."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(6, 3))
    fig.suptitle("add mod 31, mlp width 128, frac 0.6: adamw lr 0.003, 14000 steps; steps to 95% accuracy "
                 "with a fit over every finite point", fontsize=9)
    for ax in (left, right):
        ax.set_title("a panel title that is much wider than this small panel of the figure", fontsize=9)
    alone_fig, alone = plt.subplots(figsize=(4.6, 3.6))
    alone.set_title("teacher-student 5-100-100-5: alpha=2; steps to 95% accuracy, a little wider than its axes",
                    fontsize=9)
    for f in (fig, alone_fig):
        finish(f)
    renderer = fig.canvas.get_renderer()
    assert fig._suptitle.get_window_extent(renderer).width <= fig.get_figwidth() * fig.dpi
    for ax in (left, right):
        assert "\n" in ax.title.get_text()
        assert ax.title.get_window_extent(renderer).width <= ax.get_window_extent(renderer).width
    width = alone.title.get_window_extent(alone_fig.canvas.get_renderer()).width
    assert width <= alone_fig.get_figwidth() * alone_fig.dpi
    plt.close(fig)
    plt.close(alone_fig)


def test_step_axis_is_logarithmic_and_keeps_step_zero():
    steps = np.array([0, 50, 100, 200, 400, 800, 1600, 14000])
    fig, ax = plt.subplots()
    ax.plot(steps, np.linspace(0, 1, len(steps)))
    log_step_axis(ax, steps)
    assert ax.get_xscale() == "symlog" and ax.get_xlim() == (0.0, 14000.0)
    assert list(ax.get_xticks()) == [0, 100, 1000, 10000]  # no power of ten inside the linear part
    fig.canvas.draw()
    assert not _overlaps(_label_boxes(fig, ax.xaxis))
    short = np.arange(0, 8001, 400)  # evaluations every 400 steps: one power of ten past the first
    log_step_axis(ax, short)
    assert list(ax.get_xticks()) == [0, 500, 1000, 2000, 5000]
    fig.canvas.draw()
    assert not _overlaps(_label_boxes(fig, ax.xaxis))
    plt.close(fig)


def test_saved_figure_keeps_labels_outside_the_axes(tmp_path):
    """A y label left of the canvas (the clipped Doshi Fig. 18 labels) is inside the saved image."""
    fig, ax = plt.subplots(figsize=(3, 2))
    fig.subplots_adjust(left=0.0)
    ax.plot([0, 1], [1e-2, 1.03e-2])
    ax.set_ylabel("loss")
    save(fig, str(tmp_path / "a.png"))
    image = plt.imread(tmp_path / "a.png")
    assert image.shape[1] > 3 * 120  # the box grew past the 3-inch canvas to take the labels in


def test_time_vs_wd_draws_each_fit_over_its_own_range(tmp_path, monkeypatch):
    wd = np.array([0.2, 0.36, 0.66, 1.2, 2.2])
    times = {"test 95%": np.array([12000, 8000, 4400, 5000, np.nan])}
    fits = [("fit over every finite point: slope -0.5", -0.5, 3.7, 0.2, 1.2),
            ("fit over wd 0.2-0.7: slope -0.9", -0.9, 3.4, 0.2, 0.66)]
    drawn = []
    original = plt.Axes.plot

    def spy(ax, x, *args, **kwargs):
        drawn.append((kwargs.get("label"), np.min(x), np.max(x)))
        return original(ax, x, *args, **kwargs)

    monkeypatch.setattr(plt.Axes, "plot", spy)
    omnigrok_plots.plot_time_vs(str(tmp_path / "t.png"), wd, times, "title", "weight decay", fits=fits)
    lines = {label: (lo, hi) for label, lo, hi in drawn if label and label.startswith("fit")}
    assert lines == {fits[0][0]: pytest.approx((0.2, 1.2)), fits[1][0]: pytest.approx((0.2, 0.66))}


def test_time_vs_wd_with_no_run_reaching_the_accuracy_still_draws(tmp_path):
    """A short run where nothing reached the threshold: every time NaN, no log axis to fail on."""
    times = {"train 95%": np.full(3, np.nan), "test 95%": np.full(3, np.nan)}
    omnigrok_plots.plot_time_vs(str(tmp_path / "t.png"), [0.1, 0.3, 1.0], times, "title", "weight decay",
                                fits=[("fit", np.nan, np.nan, 0.1, 1.0)])
    assert (tmp_path / "t.png").stat().st_size > 0
