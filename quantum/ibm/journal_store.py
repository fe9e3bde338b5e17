"""The QPU job journal's files: one JSON entry per submission key, written atomically and fsync'd, a lock
file per key that overlapping runs (threads or processes) take before submitting, and pruning of old entries
and locks. What goes into an entry and when is `quantum.ibm.journal`.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from pydantic import BaseModel

from config.files import write_atomically

logger = logging.getLogger(__name__)

PrimitiveKind = Literal["sampler", "estimator"]
# Days a journal entry is kept after its last write: long past any queue or job limit (IBM: 3 h per job).
JOURNAL_KEEP_DAYS = 30.0


class JournalUnreadable(RuntimeError):
    """A journal entry that could not be read, so a job for its request may exist: nothing is submitted for it."""


class JournalEntry(BaseModel):
    """One submitted job: its key, id, backend and primitive, when it was submitted and its last seen state."""

    key: str
    job_id: str | None  # None while submitting: the service may have taken the job before its id came back
    tag: str | None = None  # the job tag of this submission, to find its job without the id
    backend: str
    primitive: PrimitiveKind
    submitted_at: datetime
    state: str = "SUBMITTED"


class JobJournal:
    """Journal entries under `folder`, one `<key>.json` each, written atomically and fsync'd."""

    def __init__(self, folder: Path | str) -> None:
        self.folder = Path(folder)

    def _path(self, key: str) -> Path:
        return self.folder / f"{key}.json"

    def entry(self, key: str) -> JournalEntry | None:
        """The entry for `key`, or None. An entry that cannot be read, or reads as something other than this key's
        entry (torn, binary, wrong shape), is set aside as `<key>.json.corrupt-<UTC time>` with a warning naming
        both files, and None is returned; `set_aside(key)` then lists it, and `QpuJobs.submit` refuses to submit the
        request again until the user removes it (the lost entry may hold a job that was already paid for)."""
        path = self._path(key)
        try:
            text = path.read_bytes().decode("utf-8")
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as error:  # UnicodeDecodeError is a ValueError
            return self._set_aside(path, f"unreadable ({_short(error)})")
        try:
            entry = JournalEntry.model_validate_json(text)
        except ValueError as error:  # pydantic's ValidationError included
            return self._set_aside(path, f"not a journal entry ({_short(error)})")
        if entry.key != key:
            return self._set_aside(path, f"the entry of another request ({entry.key[:16]}...)")
        return entry

    def set_aside(self, key: str) -> list[Path]:
        """The key's entries that were set aside as corrupt (`<key>.json.corrupt-*`), oldest first."""
        return sorted(self.folder.glob(f"{key}.json.corrupt-*"))

    def _set_aside(self, path: Path, reason: str) -> None:
        """Rename a bad entry to `<name>.corrupt-<UTC time>` (kept for the user to inspect) and warn."""
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S.%fZ")
        aside = path.with_name(f"{path.name}.corrupt-{stamp}")
        try:
            os.replace(path, aside)
        except FileNotFoundError:
            return None  # another run set it aside first
        except OSError as error:
            raise JournalUnreadable(
                f"QPU job journal entry {path} is {reason} and cannot be set aside ({_short(error)}); "
                "no job is submitted for it: look up its job on the service, then remove the file"
            ) from error
        logger.warning("QPU job journal entry %s is %s: set aside as %s", path, reason, aside)
        return None

    def entries(self) -> list[JournalEntry]:
        """All readable entries, oldest submission first (unreadable ones are set aside, see `entry`)."""
        found = (self.entry(path.stem) for path in self.folder.glob("*.json"))
        return sorted((e for e in found if e is not None), key=lambda e: e.submitted_at)

    def record(self, entry: JournalEntry) -> None:
        """Write the entry durably: a temporary file, fsync, rename over the old entry, fsync of the folder."""
        write_atomically(self._path(entry.key), entry.model_dump_json())

    def prune(self, keep_days: float = JOURNAL_KEEP_DAYS) -> int:
        """Remove entries and lock files untouched for `keep_days` days; return how many files went.

        A lock file goes only while prune holds it without waiting, so one a run holds stays (its mtime is its
        creation time, however recently it was locked); a run that opened it before it went locks again (`locked`).
        """
        cutoff = time.time() - keep_days * 86_400
        removed = 0
        for path in self.folder.glob("*.json"):
            with contextlib.suppress(FileNotFoundError):
                if path.stat().st_mtime < cutoff:
                    path.unlink()
                    removed += 1
        return removed + sum(_remove_unheld_lock(path, cutoff) for path in self.folder.glob("*.lock"))

    def forget(self, key: str) -> None:
        """Remove the entry for `key` (nothing happens when there is none)."""
        self._path(key).unlink(missing_ok=True)

    @contextlib.contextmanager
    def locked(self, key: str) -> Iterator[None]:
        """Hold the key's lock file, so overlapping runs (threads or processes) submit the same request once.

        A lock taken on a file `prune` removed meanwhile excludes no one: the file is opened and locked again.
        """
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self._path(key).with_suffix(".lock")
        while True:
            handle = path.open("a")
            try:
                fcntl.flock(handle, fcntl.LOCK_EX)
            except BaseException:
                handle.close()
                raise
            if _is_file_at(handle.fileno(), path):
                break
            handle.close()  # releases the lock on the removed file
        with handle:
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)


def _is_file_at(descriptor: int, path: Path) -> bool:
    """Whether the open file is still the one at `path` (not removed, nor replaced by a new file)."""
    try:
        there = os.stat(path)
    except FileNotFoundError:
        return False
    here = os.fstat(descriptor)
    return (here.st_dev, here.st_ino) == (there.st_dev, there.st_ino)


def _remove_unheld_lock(path: Path, cutoff: float) -> bool:
    """Remove the lock file when it is older than `cutoff` (s since the epoch) and no run holds it: it is locked
    without waiting, and removed while locked."""
    try:
        descriptor = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(descriptor)
        return False  # a run holds it
    try:
        if not _is_file_at(descriptor, path) or os.fstat(descriptor).st_mtime >= cutoff:
            return False
        path.unlink()
        return True
    finally:
        os.close(descriptor)  # releases the lock


def _short(error: BaseException) -> str:
    """The first line of an error's message (pydantic's run to many lines), at most 200 characters."""
    return str(error).splitlines()[0][:200] if str(error) else type(error).__name__
