"""The ``trainguard`` command line: ``main`` is the console script's entry point."""

from trainguard.cli.main import main

__all__ = ["main"]
