"""Evaluation schedules: the steps at which a run is evaluated.

Each gap between evaluation points is one jitted chunk (a lax.scan of that many
steps), compiled once per distinct length, so schedules use few distinct gaps.
"""
from __future__ import annotations

import numpy as np

LOG_POINTS_PER_DOUBLING = 8


def eval_steps(steps: int, eval_every: int, schedule: str = "linear") -> np.ndarray:
    """Steps (starting at 0, ending at `steps`) at which metrics are recorded.

    linear: every `eval_every` steps. log: gaps are powers of two times
    `eval_every`, doubling every LOG_POINTS_PER_DOUBLING points, so 1e6 steps
    need ~10 distinct compiled chunk lengths while early training is seen densely.
    """
    points = [0]
    while points[-1] < steps:
        gap = eval_every
        if schedule == "log":
            while gap * 2 * LOG_POINTS_PER_DOUBLING <= points[-1]:
                gap *= 2
        points.append(min(points[-1] + gap, steps))
    return np.asarray(points, dtype=np.int64)
