"""Removing a folder a child wrote into, whatever it left there, without ever blocking the grader.

A child's scratch folder may hold anything: folders nested thousands deep (deeper than
``PATH_MAX``, deeper than Python's recursion limit), chains of symbolic links, links to the
grader's own files, folders without permissions, named pipes. :class:`Removal` takes such a tree
apart without recursion and without following a single link: it holds one open folder at a time,
lists it with ``os.scandir`` on its descriptor, unlinks every entry that is not a folder (a
link is removed, never followed), opens a sub-folder with ``O_NOFOLLOW`` relative to its parent
and returns through ``..``; a folder is made accessible to its owner before it is listed. The
tree is the remains of a process group that has been killed, so nothing changes it meanwhile.

Its :meth:`Removal.step` works for a bounded time (a few milliseconds, checked between two
entries), so the scheduler interleaves the removal of a big tree with the children still
running; :func:`remove_tree` runs one to the end.
"""

from __future__ import annotations

import contextlib
import errno
import os
import time
from pathlib import Path

_DIRECTORY = os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC
_FAILURES = 64  # entries that resist removal, after which a removal gives up


class Removal:
    """The removal of the tree at ``path``, a bounded number of entries at a time. ``done``
    once it is gone or given up on; ``problem`` says what was left, if anything."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.done = False
        self.problem: str | None = None
        self._fd: int | None = None
        self._names: list[str] = []  # from the root to the folder open now
        self._failures = 0

    def step(self, seconds: float = 0.005) -> bool:
        """Remove entries for about ``seconds``; whether the removal is over."""
        until = time.monotonic() + seconds
        try:
            while not self.done and time.monotonic() < until:
                self._advance(until)
        except OSError as error:  # an entry that cannot be removed: skip it, a few times
            self._failures += 1
            if self._failures >= _FAILURES:
                self._give_up(f"{error.strerror} ({error.filename or self.path})")
        return self.done

    def close(self) -> None:
        """Stop, leaving what is left."""
        if not self.done:
            self._give_up("stopped before the end")

    # -- internals ---------------------------------------------------------------------------

    def _give_up(self, problem: str) -> None:
        self.problem = problem
        self.done = True
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def _advance(self, until: float) -> None:
        """One step of the walk: open the root, empty the open folder (descending into the first
        sub-folder found), or remove it and return to its parent; stop at ``until``."""
        if self._fd is None:
            self._open_root()
            return
        with os.scandir(self._fd) as entries:
            for entry in entries:
                if entry.is_dir(follow_symlinks=False):
                    self._descend(entry.name)
                    return
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(entry.name, dir_fd=self._fd)
                if time.monotonic() >= until:
                    return
        self._ascend()

    def _open_root(self) -> None:
        try:
            self._fd = os.open(self.path, _DIRECTORY | os.O_NOFOLLOW)
        except FileNotFoundError:
            self.done = True
        except PermissionError:
            self.path.chmod(0o700)  # a folder (O_NOFOLLOW would have refused a link)
        except OSError as error:  # a file, or a link (O_NOFOLLOW): remove it, not its target
            if error.errno not in (errno.ENOTDIR, errno.ELOOP):
                raise
            self.path.unlink(missing_ok=True)
            self.done = True
        else:
            with contextlib.suppress(OSError):
                os.fchmod(self._fd, 0o700)

    def _descend(self, name: str) -> None:
        assert self._fd is not None
        try:
            child = os.open(name, _DIRECTORY | os.O_NOFOLLOW, dir_fd=self._fd)
        except PermissionError:  # a folder without permissions (the walk saw it is no link)
            os.chmod(name, 0o700, dir_fd=self._fd)
            child = os.open(name, _DIRECTORY | os.O_NOFOLLOW, dir_fd=self._fd)
        with contextlib.suppress(OSError):
            os.fchmod(child, 0o700)
        os.close(self._fd)
        self._fd = child
        self._names.append(name)

    def _ascend(self) -> None:
        assert self._fd is not None
        if not self._names:
            os.close(self._fd)
            self._fd = None
            os.rmdir(self.path)
            self.done = True
            return
        parent = os.open("..", _DIRECTORY, dir_fd=self._fd)
        os.close(self._fd)
        self._fd = parent
        os.rmdir(self._names.pop(), dir_fd=parent)


def remove_tree(path: Path) -> str | None:
    """Remove the tree at ``path`` now; what was left, if anything."""
    removal = Removal(path)
    while not removal.step(1.0):
        pass
    return removal.problem
