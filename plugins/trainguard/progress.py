"""Progress of long work (a scan, a gate, an assessment) for the person waiting on it.

On a terminal: one line redrawn in place, the phase, a bar, counts and the time left. In a
log or a pipe: a line when a phase is done (with its time) and, during a long phase, at
most one every ``interval`` seconds, so a CI log shows that work goes on without a line per
shard, and a run that fails early prints its one error line alone. ``quiet`` prints
nothing; ``--format json`` keeps stdout clean because progress only goes to stderr.
"""

from __future__ import annotations

import sys
import time
from typing import IO, TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable

BAR_WIDTH = 24


def _clock(seconds: float) -> str:
    seconds = max(0, round(seconds))
    return f"{seconds // 60}:{seconds % 60:02d}"


class Progress:
    """Phases with an optional count each; ``advance`` moves the count."""

    def __init__(
        self,
        *,
        stream: IO[str] | None = None,
        quiet: bool = False,
        interval: float = 10.0,
        terminal: bool | None = None,
        phases: int | None = None,
        write: Callable[[str], None] | None = None,
    ) -> None:
        self.stream = stream or sys.stderr
        self.quiet = quiet
        self.interval = interval
        self.terminal = self.stream.isatty() if terminal is None else terminal
        self.phases = phases
        self._write = write
        self._phase = ""
        self._index = 0
        self._total: int | None = None
        self._unit = ""
        self._done = 0
        self._started = time.monotonic()
        self._last_line = 0.0
        self._drawn = False

    @classmethod
    def lines_to(cls, write: Callable[[str], None] | None) -> Progress:
        """Plain lines through a callback (``None``: silent), e.g. an operator's log."""
        return cls(quiet=write is None, terminal=False, write=write)

    def phase(self, name: str, total: int | None = None, unit: str = "") -> None:
        self._close_phase()
        self._index += 1
        self._phase, self._total, self._unit, self._done = name, total, unit, 0
        self._started = self._last_line = time.monotonic()
        if self.terminal and self._write is None:
            self._emit()

    def advance(self, amount: int = 1) -> None:
        self._done += amount
        self._emit()

    def note(self, message: str) -> None:
        """A line of its own (a finding to know about, a file written)."""
        if self.quiet:
            return
        self._end_line()
        self._line(message)

    __call__ = note  # accepted wherever a ``progress(message)`` callback is

    def finish(self) -> None:
        self._close_phase()
        self._end_line()

    def _close_phase(self) -> None:
        """A plain line for the phase just done (terminals keep their redrawn line)."""
        if not self._phase or self.quiet:
            return
        if self.terminal and self._write is None:
            self._emit()
            self._end_line()
        else:
            status = self._status(done=True)
            took = _clock(time.monotonic() - self._started)
            self._line(f"{self._label()}: {status + ', ' if status else ''}done in {took}")
        self._phase = ""

    # -- rendering
    def _label(self) -> str:
        of = f"/{self.phases}" if self.phases else ""
        return f"[{self._index}{of}] {self._phase}"

    def _status(self, *, done: bool = False) -> str:
        if self._total is None:
            return f"{self._done:,} {self._unit}".strip() if self._done else ""
        if done:
            return f"{self._done:,}/{self._total:,} {self._unit}"
        total = max(self._total, 1)
        share = min(self._done / total, 1.0)
        elapsed = time.monotonic() - self._started
        left = elapsed / share - elapsed if share > 0 else None
        eta = f", {_clock(left)} left" if left is not None and share < 1 else ""
        return f"{self._done:,}/{self._total:,} {self._unit} ({share:.0%}{eta})"

    def _emit(self) -> None:
        if self.quiet or not self._phase:
            return
        now = time.monotonic()
        if self.terminal and self._write is None:
            bar = ""
            if self._total:
                filled = round(BAR_WIDTH * min(self._done / self._total, 1.0))
                bar = "[" + "#" * filled + "." * (BAR_WIDTH - filled) + "] "
            self.stream.write(f"\r\x1b[K{self._label()}  {bar}{self._status()}")
            self.stream.flush()
            self._drawn = True
            return
        if now - self._last_line >= self.interval:
            status = self._status()
            self._line(f"{self._label()}: {status}" if status else self._label())
            self._last_line = now

    def _line(self, text: str) -> None:
        if self._write is not None:
            self._write(text)
            return
        self.stream.write(text + "\n")
        self.stream.flush()

    def _end_line(self) -> None:
        if self._drawn:
            self.stream.write("\n")
            self.stream.flush()
            self._drawn = False
