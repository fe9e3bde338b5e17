"""How qcflow writes a file: whole or not at all.

Every report, results JSON and state file goes through `write_atomically`: the text is written to a temporary file
in the same folder, flushed to disk, and renamed over the target (`os.replace` is atomic on POSIX within one file
system), so a full disk, a read-only folder or a kill mid-write leaves the old file as it was, never a torn one.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path


def write_atomically(path: Path | str, data: str | bytes) -> None:
    """Replace `path` with `data` (text is UTF-8) in one step; on any failure the old file is untouched.

    The temporary file `.<name>.<pid>.<random>.tmp` is created with mode 0o666 less the umask (like `open`), fsync'd,
    renamed over `path`, and the folder is fsync'd so the rename survives a power cut. Raises OSError (the
    temporary file is removed first); missing parent folders are created.
    """
    path = Path(path)
    payload = data.encode("utf-8") if isinstance(data, str) else data
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        try:
            view = memoryview(payload)
            while view:
                view = view[os.write(descriptor, view) :]
            os.fsync(descriptor)
        finally:
            os.close(descriptor)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            temporary.unlink()
        raise
    _sync_folder(path.parent)


def _sync_folder(folder: Path) -> None:
    """fsync a folder so a rename in it is durable; file systems that cannot (some network mounts) are skipped."""
    with contextlib.suppress(OSError):
        descriptor = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)
