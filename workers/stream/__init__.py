"""The Faust side: the app, its table and thin agents around the pure decision core."""

from workers.stream.app import build_app
from workers.stream.pipeline import Pipeline

__all__ = ["Pipeline", "build_app"]
