"""What the `qcflow` commands show on a scientist's terminal: plain messages, never a Python traceback.

Full tracebacks still reach Prefect's API log handlers (the UI); only the console copy is shortened.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from config.files import write_atomically

QUIET_LOGGERS = ("prefect.server", "prefect._internal", "prefect.events", "uvicorn", "docket", "httpx")
Report = TypeVar("Report", bound=BaseModel)
# Exit status of a command whose results were computed and printed but could not be saved to --out.
WRITE_FAILED = 4


def prepare_embedded_prefect() -> None:
    """Defaults for the embedded Prefect API: no telemetry, and no server tracebacks on a scientist's terminal."""
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("PREFECT_SERVER_LOGGING_LEVEL", "CRITICAL")
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.CRITICAL)


class _OneLineErrors(logging.Formatter):
    """Wraps the console formatter: a record with an exception prints its message only, not the traceback."""

    def __init__(self, inner: logging.Formatter) -> None:
        super().__init__()
        self.inner = inner

    def format(self, record: logging.LogRecord) -> str:
        if record.exc_info or record.exc_text:
            record = logging.makeLogRecord({**record.__dict__, "exc_info": None, "exc_text": None})
        return self.inner.format(record)


def shorten_console_tracebacks() -> None:
    """Give Prefect's console handler (on the root logger, set up when prefect is imported) one-line errors."""
    for handler in logging.getLogger().handlers:
        if type(handler).__name__ == "PrefectConsoleHandler" and not isinstance(
            handler.formatter, _OneLineErrors
        ):
            handler.setFormatter(_OneLineErrors(handler.formatter or logging.Formatter()))


def _as_flags(message: str, flags: Mapping[str, str]) -> str:
    """Field names in a message as the flags that set them: `name=`, `name:` and `name/` always, and anywhere
    for names with an underscore (identifiers, never plain words such as 'options' in a sentence)."""
    for field, flag in flags.items():
        pattern = rf"\b{field}\b" if "_" in field else rf"\b{field}(?=[=:/])"
        message = re.sub(pattern, flag, message)
    return message


def invalid_input(
    command: str,
    error: ValidationError,
    env_prefix: str | None = None,
    flags: Mapping[str, str] | None = None,
) -> int:
    """Print each bad field with its problem and the value given (exit status 2, before any work starts).

    With `env_prefix` the fields are settings, named as the environment variables that set them; with `flags`
    (field -> command-line flag) they are named as the flags the user typed, in the messages too.
    """
    flags = flags or {}
    lines = [f"qcflow {command}: invalid input"]
    for problem in error.errors():
        loc = [str(part) for part in problem["loc"]]
        message = _as_flags(problem["msg"].removeprefix("Value error, "), flags)
        if not loc:  # a check across fields names them in its message
            lines.append(f"  {message}")
            continue
        field = flags.get(loc[0], ".".join(loc))
        if env_prefix:
            field = f"{env_prefix}{field.upper()}"
        if problem["type"] != "value_error" and not isinstance(problem.get("input"), dict | list):
            message += f" (got {problem['input']!r})"
        lines.append(f"  {message}" if message.startswith(field) else f"  {field}: {message}")
    print("\n".join(lines), file=sys.stderr)
    return 2


def out_problem(out: Path | None) -> str | None:
    """Why the results JSON could not be written to `out`, or None: checked before any work starts.

    A missing parent folder is created now (the run would create it anyway), then a scratch file proves it writable.
    """
    if out is None:
        return None
    if out.is_dir():
        return f"--out {out} is a folder; give a file in it, e.g. --out {out / 'results.json'}"
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=out.parent):
            pass
    except OSError as error:
        return (
            f"--out {out}: cannot write in {out.parent} ({error.strerror or error}); "
            "give a path in a folder you can write"
        )
    if out.exists() and not os.access(out, os.W_OK):
        return f"--out {out}: the file is read-only; give another path or make it writable"
    return None


def refuse(command: str, problem: str) -> int:
    """Print one line saying why the command cannot start (exit status 2, before any work starts)."""
    print(f"qcflow {command}: {problem}", file=sys.stderr)
    return 2


def run_flow(command: str, flow: Callable[..., Report], parameters: dict[str, Any]) -> Report | None:
    """Run a flow; on failure print one line (the UI keeps the traceback) and return None."""
    shorten_console_tracebacks()
    try:
        return flow(**parameters)
    except Exception as error:
        print(
            f"qcflow {command}: the run failed: {error} (full details in the Prefect logs)", file=sys.stderr
        )
        return None


def write_json(report: BaseModel, out: Path | None, command: str = "") -> int:
    """Write the report as JSON to `out` (when given) and say where; return the exit status.

    The file is replaced in one step (`config.files.write_atomically`): a full disk or a read-only folder leaves
    an earlier results file as it was. When it cannot be written, the JSON goes to stdout instead, so the computed
    result is never lost, and one line on stderr says what could not be saved (exit status 4).
    """
    if out is None:
        return 0
    text = json.dumps(report.model_dump(mode="json"), indent=2)
    try:
        write_atomically(out, text + "\n")
    except OSError as error:
        print(text)
        print(
            f"qcflow {command or 'run'}: the results could not be written to {out} "
            f"({error.strerror or error}); they are printed above as JSON and {out} was left as it was; "
            "free some space or give --out a folder you can write, and save them from here",
            file=sys.stderr,
        )
        return WRITE_FAILED
    print(f"\nResults written to {out}")
    return 0
