"""nnvisr: neural video enhancement inside FFmpeg (the Python core)."""

__version__ = "0.1.0"
