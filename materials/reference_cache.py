"""The elemental-reference cache on disk: one JSON object per surrogate and settings, {element: entry}.

Read defensively: a file that is not such an object, or holds an entry that is not a plausible reference, is
renamed aside (`<name>.corrupt-<UTC timestamp>`, with a warning naming both files) and its valid entries are
written back, so the bad values are recomputed and nothing is destroyed. Written atomically, one element at a
time (a temporary file in the same folder, then os.replace), so a run killed during the references keeps every
element it finished; a cache that cannot be written (read-only or full disk) costs a warning, never the values.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import math
import os
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pymatgen.core import Element

from materials.plausibility import reference_problem

log = logging.getLogger(__name__)

# Largest cache file read (bytes): about 100 bytes per element, so anything bigger is not a reference cache.
MAX_CACHE_BYTES = 2**20


def entry_problem(element: object, entry: object) -> str | None:
    """Why a cache entry is not a usable reference, or None. An entry is
    {"energy_per_atom": float (eV/atom, within the plausibility bounds), "structure": str, "converged": bool}."""
    if not isinstance(element, str) or not Element.is_valid_symbol(element):
        return f"key {element!r} is not an element symbol"
    if not isinstance(entry, dict):
        return f"{element}: the entry is {type(entry).__name__} {entry!r:.60}, not an object"
    energy = entry.get("energy_per_atom")
    if isinstance(energy, bool) or not isinstance(energy, int | float) or not math.isfinite(energy):
        return f"{element}: energy_per_atom is {energy!r:.60}, not a finite number"
    if not isinstance(entry.get("structure"), str):
        return f"{element}: structure is {entry.get('structure')!r:.60}, not a name"
    if not isinstance(entry.get("converged", True), bool):
        return f"{element}: converged is {entry.get('converged')!r:.60}, not true/false"
    return reference_problem(element, float(energy))


def read_reference_cache(path: Path) -> dict[str, dict[str, Any]]:
    """The valid entries of the cache file ({} when there is none); a bad file is set aside and rewritten."""
    try:
        if not path.exists():
            return {}
        if path.stat().st_size > MAX_CACHE_BYTES:
            raise ValueError(
                f"{path.stat().st_size} bytes, more than any reference cache ({MAX_CACHE_BYTES})"
            )
        data = json.loads(path.read_bytes().decode("utf-8"))
    except (OSError, ValueError, RecursionError) as error:  # UnicodeDecodeError and JSONDecodeError included
        _set_aside(path, f"unreadable ({_short(error)})")
        return {}
    if not isinstance(data, dict):
        _set_aside(path, f"a JSON {type(data).__name__}, not an object of element entries")
        return {}
    problems = {key: problem for key, entry in data.items() if (problem := entry_problem(key, entry))}
    valid = {key: entry for key, entry in data.items() if key not in problems}
    if problems:
        _set_aside(
            path, "entries failed the checks (" + "; ".join(problems.values()) + "); they are recomputed"
        )
        for element, entry in valid.items():
            write_reference_entry(path, element, entry)
    return valid


def write_reference_entry(path: Path, element: str, entry: dict[str, Any]) -> None:
    """Merge one element's entry into the cache file atomically; a failure to write is a warning, not an error."""
    temporary: str | None = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with _merge_lock(path):  # two runs at once: neither loses the other's element
            merged = _valid_entries(path) | {element: entry}
            handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
            with os.fdopen(handle, "w") as stream:
                json.dump(merged, stream, indent=1, sort_keys=True)
                stream.flush()
                os.fsync(stream.fileno())
            os.replace(temporary, path)
            temporary = None
    except OSError as error:
        log.warning(
            "could not save the reference of %s to %s (%s); it is used in this run and recomputed next time",
            element,
            path,
            _short(error),
        )
    finally:
        if temporary is not None:
            Path(temporary).unlink(missing_ok=True)


@contextlib.contextmanager
def _merge_lock(path: Path) -> Iterator[None]:
    """An exclusive advisory lock (fcntl.flock) on `<cache>.lock` beside the cache, held while merging."""
    with open(path.with_name(path.name + ".lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _valid_entries(path: Path) -> dict[str, dict[str, Any]]:
    """The cache's valid entries for a merge, without setting anything aside (a reader does that)."""
    try:
        data = json.loads(path.read_bytes().decode("utf-8"))
    except (OSError, ValueError, RecursionError):
        return {}
    if not isinstance(data, dict):
        return {}
    return {key: entry for key, entry in data.items() if entry_problem(key, entry) is None}


def _set_aside(path: Path, reason: str) -> None:
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    aside = path.with_name(f"{path.name}.corrupt-{stamp}")
    try:
        os.replace(path, aside)
    except OSError as error:
        log.warning("reference cache %s is %s and could not be set aside (%s)", path, reason, _short(error))
        return
    log.warning("reference cache %s is %s: renamed to %s and rebuilt", path, reason, aside)


def _short(error: BaseException) -> str:
    return str(error).splitlines()[0][:200] if str(error) else type(error).__name__
