"""Scene cuts found from the frames themselves, with FFmpeg's scdet measure.

For a temporal model whose input carries no scene-change metadata (no scdet
in front), windows would blend two scenes at every cut. The filter then scores
each frame as scdet does: the mean absolute difference to the previous frame
(luma for YUV, every sample for RGB) in percent of the code range, mafd, and
the score min(mafd, |mafd - previous mafd|); a scene starts where the score
reaches the threshold (scdet's default, 10).
"""

from __future__ import annotations

import numpy as np

SCDET_THRESHOLD = 10.0


class SceneDetector:
    def __init__(self, depth: int, threshold: float = SCDET_THRESHOLD) -> None:
        self.range = float(1 << depth)  # scdet divides by 2^depth, not by the largest code
        self.threshold = threshold
        self.previous: list[np.ndarray] | None = None
        self.previous_mafd = 0.0

    def score(self, planes: list[np.ndarray]) -> float:
        """scdet's score of this frame against the one before (0 for the first)."""
        score = 0.0
        if self.previous is not None and all(a.shape == b.shape for a, b in zip(planes, self.previous)):
            total, count = 0, 0
            for current, before in zip(planes, self.previous):
                # |a - b| without widening: the larger minus the smaller stays in the samples' type
                difference = np.maximum(current, before) - np.minimum(current, before)
                total += int(difference.sum(dtype=np.uint64))
                count += difference.size
            mafd = total * 100.0 / count / self.range
            score = min(max(min(mafd, abs(mafd - self.previous_mafd)), 0.0), 100.0)
            self.previous_mafd = mafd
        self.previous = [np.array(plane) for plane in planes]
        return score

    def is_cut(self, planes: list[np.ndarray]) -> bool:
        return self.score(planes) >= self.threshold
