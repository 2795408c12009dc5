"""Listing the content folder: which files and folders count, without reading any.

The same walk serves the cheap change check (its signature) and the scan, so both agree
on what is skipped and where symlinks lead. Skipped, never listed: names starting with
`.` or `_` at any depth, editor leftovers. Refused, with a problem: symlinks leading
outside the folder or into a skipped name, symlinked folders that contain themselves,
anything that is not a plain file or folder.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path

#: Editor and system leftovers: backups, Vim swap files, Emacs autosaves.
LEFTOVER_SUFFIXES = ("~", ".swp", ".swo", ".swx")


@dataclass(frozen=True)
class Entry:
    rel: str  # the path below the root as listed ("guides/start.md"), "" for the root
    source: Path  # the real path (symlinks resolved once, here)
    is_dir: bool
    mtime_ns: int
    size: int


@dataclass(frozen=True)
class Listing:
    root: Path  # the root's real path
    entries: tuple[Entry, ...]  # sorted by rel, so a folder comes before what it holds
    problems: tuple[str, ...]

    @property
    def signature(self) -> tuple[object, ...]:
        """What a rescan depends on: any change here may change the snapshot."""
        stamps = tuple((e.rel, e.is_dir, e.mtime_ns, e.size) for e in self.entries)
        return (self.root, stamps, self.problems)


def skipped(name: str) -> bool:
    if name.startswith((".", "_")) or name.endswith(LEFTOVER_SUFFIXES):
        return True
    return name.startswith("#") and name.endswith("#")  # Emacs autosave


def walk(root: Path) -> Listing:
    """Every file and folder that counts under `root`; empty if `root` is no folder."""
    real_root = os.path.realpath(root)
    try:
        st = os.stat(real_root)
    except OSError:
        st = None
    if st is None or not stat.S_ISDIR(st.st_mode):
        return Listing(Path(real_root), (), ())
    entries = [Entry("", Path(real_root), True, st.st_mtime_ns, 0)]
    problems: list[str] = []
    # (real folder to list, its rel path, real paths of the folders it sits in)
    stack: list[tuple[str, str, frozenset[str]]] = [(real_root, "", frozenset({real_root}))]
    while stack:
        folder, folder_rel, ancestors = stack.pop()
        try:
            with os.scandir(folder) as it:
                children = sorted(it, key=lambda e: e.name)
        except OSError as e:
            problems.append(f"{folder_rel or '.'}/: cannot be listed ({e.strerror})")
            continue
        for child in children:
            if skipped(child.name):
                continue
            rel = f"{folder_rel}/{child.name}" if folder_rel else child.name
            real = child.path
            if child.is_symlink():
                real = os.path.realpath(child.path)
                refusal = _link_refusal(real, real_root)
                if refusal:
                    problems.append(f"{rel}: {refusal}")
                    continue
            try:
                st = os.stat(real)
            except OSError as e:
                problems.append(f"{rel}: cannot be read ({e.strerror})")
                continue
            if stat.S_ISDIR(st.st_mode):
                if real in ancestors:
                    problems.append(f"{rel}: a symlink to a folder that contains it (a loop)")
                    continue
                entries.append(Entry(rel, Path(real), True, st.st_mtime_ns, 0))
                stack.append((real, rel, ancestors | {real}))
            elif stat.S_ISREG(st.st_mode):
                entries.append(Entry(rel, Path(real), False, st.st_mtime_ns, st.st_size))
            else:
                problems.append(f"{rel}: not a plain file or folder")
    entries.sort(key=lambda e: e.rel)
    return Listing(Path(real_root), tuple(entries), tuple(sorted(problems)))


def _link_refusal(real: str, real_root: str) -> str | None:
    """Why a symlink to `real` may not be followed, or None."""
    if real != real_root and not real.startswith(real_root.rstrip(os.sep) + os.sep):
        return "a symlink to outside the content folder"
    if any(skipped(part) for part in Path(os.path.relpath(real, real_root)).parts):
        return "a symlink to a skipped (hidden, draft or leftover) file or folder"
    return None
