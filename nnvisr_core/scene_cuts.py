"""Where a temporal model's scene cuts come from (option scene): frame metadata, scdet's measure, or nowhere.

A window never spans a cut, so without cuts a temporal model blends the frames of two scenes. scene=auto (the
default) reads the metadata of scene detection in front of the filter (scdet, or whatever scene_key names) when the
key was set explicitly or the first frame carries it, and otherwise measures the frames here with scdet's own
measure (scene_detect.py), so that `-vf nnvisr` cuts where `-vf scdet,nnvisr` does. scene=metadata only reads the
metadata; scene=off sees no cut.
"""

from __future__ import annotations

import numpy as np

from . import log
from .log import LogFunction
from .scene_detect import SCDET_THRESHOLD, LinkFormat, SceneMeasure

SCDET_TIME_KEY = "lavfi.scd.time"  # set by scdet on the first frame of a scene only
SCDET_SCORE_KEY = "lavfi.scd.score"  # set by scdet on every frame


def presence_key(scene_key: str) -> str:
    """The key whose presence on a frame shows that scene detection ran in front of the filter."""
    return SCDET_SCORE_KEY if scene_key == SCDET_TIME_KEY else scene_key


class SceneCuts:
    """Decides, frame by frame, whether a frame starts a scene."""

    def __init__(
        self,
        mode: str,
        scene_key: str,
        key_given: bool,
        threshold: float,
        link_format: LinkFormat,
        logger: LogFunction,
    ) -> None:
        self.mode = mode
        self.scene_key = scene_key
        self.presence_key = presence_key(scene_key)
        self.threshold = threshold
        self.log = logger
        self.link_format = link_format
        # "metadata", "detect" or "off" once the first frame has been seen
        self.source: str | None = {"off": "off", "metadata": "metadata"}.get(mode)
        if mode == "auto" and key_given:
            self.source = "metadata"
        self.measure: SceneMeasure | None = None
        self.frames = 0

    @property
    def keys(self) -> tuple[str, str]:
        """The metadata keys the filter reads on each frame: the scene key and the presence key ("" for none)."""
        if self.source == "off":
            return "", ""
        return self.scene_key, self.presence_key

    @property
    def planes_wanted(self) -> int:
        """How many of the link frame's planes the next push needs (0: none are measured)."""
        if self.source == "detect" or (self.source is None and self.frames == 0):
            return self._measure().plane_count
        return 0

    def plane_shapes(self) -> list[tuple[int, int]]:
        return self._measure().plane_shapes

    def plane_dtype(self) -> np.dtype:
        return self._measure().dtype

    def _measure(self) -> SceneMeasure:
        if self.measure is None:
            self.measure = SceneMeasure(self.link_format)
        return self.measure

    def starts_scene(self, value: str | None, presence: str | None, planes: list[np.ndarray]) -> bool:
        """value, presence: the frame's scene and presence keys; planes: its link planes (planes_wanted of them)."""
        first = self.frames == 0
        self.frames += 1
        if first:
            self._choose_source(presence is not None)
        if self.source == "detect":
            return self._measure().score(planes) >= self.threshold
        if self.source == "metadata":
            return self._from_metadata(value)
        return False

    def _choose_source(self, presence: bool) -> None:
        if self.source is None:
            self.source = "metadata" if presence else "detect"
            if self.source == "detect" and self.threshold <= 0:
                self.threshold = SCDET_THRESHOLD
        if self.source == "detect":
            line = f"detected here (scdet's measure on {self.link_format.name}, threshold {self.threshold:g})"
        elif self.source == "metadata":
            line = f"from frame metadata {self.scene_key}"
            if self.threshold > 0:
                line += f" (a scene starts where it reaches {self.threshold:g})"
        else:
            line = "off"
        self.log(log.INFO, f"scene cuts: {line}")
        # A key that marks cuts by its presence alone is missing from most frames: only a key expected on every
        # frame (scdet's score, or a score compared with scene_threshold) shows by its absence that nothing ran.
        on_every_frame = self.presence_key != self.scene_key or self.threshold > 0
        if self.mode == "metadata" and on_every_frame and not presence:
            self.log(
                log.WARNING,
                f"scene=metadata: the frames carry no {self.presence_key}, so no scene cut will be seen; put scdet "
                "in front (-vf scdet,nnvisr) or leave scene=auto to detect cuts here",
            )

    def _from_metadata(self, value: str | None) -> bool:
        """scdet sets its key only on a scene's first frame; a score key needs the threshold."""
        if value is None:
            return False
        if self.threshold <= 0:
            return True
        try:
            return float(value) >= self.threshold
        except ValueError:
            return False
