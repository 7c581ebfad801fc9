"""Removing what a child left in its scratch folder (lossmod_instructor.grading.cleanup): folders
nested deeper than Python's recursion limit and than PATH_MAX, chains of links, links out of the
folder, folders without permissions and named pipes all go, and nothing outside is touched; the
work is done in bounded steps."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from lossmod_instructor.grading import cleanup


@pytest.fixture
def folder(tmp_path: Path) -> Iterator[Path]:
    """A folder on a memory file system where there is one: the trees below hold thousands of
    entries, which some virtual disks create at milliseconds each."""
    memory = Path("/dev/shm")
    if memory.is_dir() and os.access(memory, os.W_OK):
        made = Path(tempfile.mkdtemp(prefix="lossmod-test-", dir=memory))
        yield made
        cleanup.remove_tree(made)
    else:
        yield tmp_path


def hostile_tree(root: Path, outside: Path) -> None:
    """What a child may leave: 2,500 nested folders (reached by relative steps), a chain of
    1,500 links, links to a file and a folder outside, locked folders, a named pipe."""
    root.mkdir()
    here = os.getcwd()
    os.chdir(root)
    try:
        for _ in range(2500):
            os.mkdir("d")
            os.chdir("d")
        Path("leaf").write_text("x")
    finally:
        os.chdir(here)
    for number in range(1500):
        os.symlink(f"l{number + 1}", root / f"l{number}")
    os.symlink(outside, root / "to-file")
    os.symlink(outside.parent, root / "to-folder")
    locked = root / "locked" / "inner"
    locked.mkdir(parents=True)
    (locked / "f").write_text("x")
    locked.chmod(0)
    (root / "locked").chmod(0o500)
    os.mkfifo(root / "pipe")


def test_a_hostile_tree_is_removed_and_nothing_outside(folder: Path) -> None:
    outside = folder / "outside" / "keep.txt"
    outside.parent.mkdir()
    outside.write_text("keep")
    root = folder / "scratch"
    hostile_tree(root, outside)
    assert cleanup.remove_tree(root) is None
    assert not root.exists() and not os.path.lexists(root)
    assert outside.read_text() == "keep" and list(outside.parent.iterdir()) == [outside]


def test_the_work_comes_in_bounded_steps(folder: Path) -> None:
    """A step of no time does nothing; short steps take a deep tree apart a little at a time,
    each step leaving at most one folder open."""
    root = folder / "scratch"
    hostile_tree(root, folder / "absent")
    removal = cleanup.Removal(root)
    assert removal.step(0.0) is False and root.exists()
    steps = 0
    while not removal.step(0.0005):
        steps += 1
        assert len(os.listdir("/proc/self/fd")) < 64
    assert steps > 1 and not root.exists() and removal.problem is None


@pytest.mark.parametrize("kind", ["link", "file", "absent"])
def test_a_root_that_is_no_folder(folder: Path, kind: str) -> None:
    """A root that is a link is removed, not followed; a file is removed; nothing is fine."""
    target = folder / "target"
    target.mkdir()
    (target / "f").write_text("x")
    root = folder / "root"
    if kind == "link":
        root.symlink_to(target)
    elif kind == "file":
        root.write_text("x")
    assert cleanup.remove_tree(root) is None
    assert not os.path.lexists(root) and (target / "f").read_text() == "x"
