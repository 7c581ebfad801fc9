"""A progress bar on stderr, without a dependency: redrawn in place on a terminal, a line per
tenth of the batch otherwise (a log file or CI)."""

from __future__ import annotations

import sys
import time
from collections import Counter
from typing import TextIO


class Progress:
    def __init__(self, total: int, stream: TextIO | None = None, *, enabled: bool = True) -> None:
        self.total, self.done, self.counts = total, 0, Counter[str]()
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = enabled and total > 0
        self.tty = self.stream.isatty()
        self.started = time.monotonic()
        self._shown_tenth = -1

    def update(self, status: str) -> None:
        self.done += 1
        self.counts[status] += 1
        if not self.enabled:
            return
        tenth = 10 * self.done // self.total
        if self.tty:
            self.stream.write("\r" + self.line())
        elif tenth != self._shown_tenth:
            self.stream.write(self.line() + "\n")
        self._shown_tenth = tenth
        self.stream.flush()

    def line(self) -> str:
        width = 24
        filled = width * self.done // max(self.total, 1)
        counts = ", ".join(f"{n} {s}" for s, n in sorted(self.counts.items()))
        elapsed = time.monotonic() - self.started
        bar = "#" * filled + "-" * (width - filled)
        return f"grading [{bar}] {self.done}/{self.total}  {elapsed:.1f} s  {counts}"

    def close(self) -> None:
        if self.enabled and self.tty:
            self.stream.write("\n")
            self.stream.flush()
