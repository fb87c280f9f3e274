"""The fast path, the slow path, the inference backends and the contracts between stages."""

__version__ = "0.1.0"
