"""What the `qcflow` commands show on a scientist's terminal: plain messages, never a Python traceback.

Full tracebacks still reach Prefect's API log handlers (the UI); only the console copy is shortened. The commands
also share here how they start the embedded Prefect API (bound to their process, with time for a busy machine)
and how they save results (whole or not at all; printed when they cannot be saved).
"""

from __future__ import annotations

import argparse
import atexit
import functools
import json
import logging
import os
import re
import signal
import subprocess
import sys
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from config.files import write_atomically

# Prefect waits 20 s for its embedded server by default; on a loaded 2-core machine 4 of ~85 starts took longer
# (issue 16), so qcflow commands wait this long (s) unless the variable is set.
STARTUP_TIMEOUT_VARIABLE = "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS"
STARTUP_TIMEOUT_S = 120
STARTUP_ATTEMPTS = 2
PR_SET_PDEATHSIG = 1  # linux/prctl.h
# Aer's seed_simulator is a signed 64-bit integer: 2**63 fails inside Aer with "incompatible function arguments".
MAX_SEED = 2**63 - 1
QUIET_LOGGERS = ("prefect.server", "prefect._internal", "prefect.events", "uvicorn", "docket", "httpx")
Report = TypeVar("Report", bound=BaseModel)
# Exit status of a command whose results were computed and printed but could not be saved to --out.
WRITE_FAILED = 4


def prepare_embedded_prefect() -> None:
    """Defaults for the embedded Prefect API: no telemetry, no server tracebacks on a scientist's terminal, and
    time for its server to start on a busy machine (STARTUP_TIMEOUT_S unless the variable is set)."""
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault(STARTUP_TIMEOUT_VARIABLE, str(STARTUP_TIMEOUT_S))
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


def as_flags(message: str, flags: Mapping[str, str]) -> str:
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
        message = as_flags(problem["msg"].removeprefix("Value error, "), flags)
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


def start_embedded_api() -> str | None:
    """Start Prefect's embedded API server now, from the main thread, bound to this process; None when it runs
    (or PREFECT_API_URL names a server), else what went wrong and which variable to set.

    Prefect would start the same server on first use (`SubprocessASGIServer`, one per process) and stop it at exit,
    but a process killed with SIGKILL (the OOM killer) runs no exit handler: its server lived on. Started here, the
    server gets a parent-death signal (Linux prctl PR_SET_PDEATHSIG), so the kernel kills it with its client.
    A start that times out is retried once (nothing has run on the server yet, so a retry repeats no work).
    """
    from prefect.settings import PREFECT_API_URL

    if PREFECT_API_URL.value():
        return None
    given = os.environ.get(STARTUP_TIMEOUT_VARIABLE) or str(STARTUP_TIMEOUT_S)
    if not given.isdigit() or int(given) < 1:
        return f"{STARTUP_TIMEOUT_VARIABLE}={given!r} is not a whole number of seconds; set it to e.g. 300"
    timeout = int(given)
    error: Exception | None = None
    for _ in range(STARTUP_ATTEMPTS):
        server = _parent_bound_server()
        try:
            server.start(timeout=timeout)
            return None
        except Exception as failure:  # Prefect raises RuntimeError on a timeout, httpx errors on a bad answer
            error = failure
            server.stop()
    first_line = str(error).splitlines()[0][:300] if str(error) else type(error).__name__
    return (
        f"the embedded Prefect API server did not start ({STARTUP_ATTEMPTS} tries of {timeout} s: {first_line}); "
        f"on a busy machine set {STARTUP_TIMEOUT_VARIABLE}=300 (seconds), or start a server (scripts/server.sh) "
        "and set PREFECT_API_URL=http://127.0.0.1:4200/api"
    )


def _parent_bound_server() -> Any:
    """The process's embedded-server object (Prefect keeps one per port, here None: any free port), of a subclass
    whose server process dies with this one. An instance Prefect made first is replaced unless it is running."""
    from prefect.server.api.server import SubprocessASGIServer

    bound = _parent_bound_class()
    existing = SubprocessASGIServer._instances.get(None)
    if existing is not None and not existing.running and not isinstance(existing, bound):
        del SubprocessASGIServer._instances[None]
    return bound()


def spawn_embedded_api() -> None:
    """Launch the embedded API server's process now, without waiting for it (`start_embedded_api` waits).

    A command calls this first thing, from the main thread, so the server boots (about 5 s of imports and database
    set-up in its own process) while this process imports the flow, torch and the ML potential: on two cores the
    two overlap instead of adding up. Nothing starts when PREFECT_API_URL names a server or one already runs.
    """
    prepare_embedded_prefect()
    from prefect.settings import PREFECT_API_URL

    if PREFECT_API_URL.value():
        return
    server = _parent_bound_server()
    if server.running or server.early_process is not None:
        return
    server.port = server.find_available_port()
    server.early_process = _popen_bound_to_this_process(_uvicorn_command(server.port))
    atexit.register(_stop_unused_early_process, server)


def _stop_unused_early_process(server: Any) -> None:
    """At exit, stop a server launched early that no run went on to use (Linux would kill it anyway)."""
    process, server.early_process = server.early_process, None
    if process is not None and process.poll() is None:
        process.terminate()


@functools.cache
def _parent_bound_class() -> type:
    from prefect.server.api.server import SubprocessASGIServer

    class ParentBoundServer(SubprocessASGIServer):
        """Prefect's embedded server, started by a process it cannot outlive; its process may have been launched
        early (`spawn_embedded_api`), and then Prefect's start() adopts it and only waits for it to answer."""

        early_process: subprocess.Popen[Any] | None = None

        def _run_uvicorn_command(self) -> subprocess.Popen[Any]:
            early, self.early_process = self.early_process, None
            if early is not None and early.poll() is None:
                return early
            return _popen_bound_to_this_process(_uvicorn_command(self.port))

    return ParentBoundServer


def _uvicorn_command(port: int | None) -> tuple[list[str], dict[str, str]]:
    """The command and environment Prefect 3.9.1's SubprocessASGIServer._run_uvicorn_command uses (UI off)."""
    import prefect
    from prefect.settings import get_current_settings

    args = [
        sys.executable, "-m", "uvicorn", "--app-dir", str(prefect.__module_path__.parent), "--factory",
        "prefect.server.api.server:create_app", "--host", "127.0.0.1", "--port", str(port),
        "--log-level", "error", "--lifespan", "on",
    ]  # fmt: skip
    environment = {
        **os.environ,
        "PREFECT_UI_ENABLED": "0",
        "PREFECT__SERVER_EPHEMERAL": "1",
        "PREFECT__SERVER_FINAL": "1",
        **get_current_settings().to_environment_variables(exclude_unset=True),
    }
    return args, environment


def _popen_bound_to_this_process(command: tuple[list[str], dict[str, str]]) -> subprocess.Popen[Any]:
    """Popen whose child gets SIGKILL when this process dies (Linux; elsewhere a plain Popen, stopped at exit).

    The signal follows the thread that forked the child, so this runs from the main thread (`start_embedded_api`).
    """
    args, environment = command
    if not sys.platform.startswith("linux"):
        return subprocess.Popen(args, env=environment)
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)  # loaded before the fork: the child only calls into it
    parent = os.getpid()

    def die_with_parent() -> None:
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        if os.getppid() != parent:  # the parent died before the signal was armed
            os._exit(1)

    return subprocess.Popen(args, env=environment, preexec_fn=die_with_parent)


class CommandParser(argparse.ArgumentParser):
    """A subcommand's parser that may add its arguments when it first parses (`add_arguments_later`): flags built
    from a flow import it, seconds that `qcflow --help` and the other commands need not pay."""

    _add_later: Callable[[argparse.ArgumentParser], None] | None = None

    def parse_known_args(self, args: Any = None, namespace: Any = None) -> Any:
        if self._add_later is not None:
            add, self._add_later = self._add_later, None
            add(self)
        return super().parse_known_args(args, namespace)


def add_arguments_later(
    parser: argparse.ArgumentParser, add: Callable[[argparse.ArgumentParser], None]
) -> None:
    """Add a subcommand's arguments when it first parses, if its parser is a CommandParser; else now."""
    if isinstance(parser, CommandParser):
        parser._add_later = add
    else:
        add(parser)


def seed_argument(text: str) -> int:
    """argparse type for a --seed that reaches Aer: a whole number Aer takes (0 to 2**63 - 1; larger ones fail inside Aer)."""
    try:
        seed = int(text)
    except ValueError:
        seed = -1
    if not 0 <= seed <= MAX_SEED:
        raise argparse.ArgumentTypeError(
            f"seed={text!r}; give a whole number from 0 to {MAX_SEED} (2**63 - 1, the largest seed Aer takes)"
        )
    return seed


def refuse(command: str, problem: str) -> int:
    """Print one line saying why the command cannot start (exit status 2, before any work starts)."""
    print(f"qcflow {command}: {problem}", file=sys.stderr)
    return 2


def run_flow(command: str, flow: Callable[..., Report], parameters: dict[str, Any]) -> Report | None:
    """Run a flow on the embedded API (started first, bound to this process: `start_embedded_api`) or on
    PREFECT_API_URL; on failure print one line (the UI keeps the traceback) and return None."""
    shorten_console_tracebacks()
    if problem := start_embedded_api():
        print(f"qcflow {command}: {problem}", file=sys.stderr)
        return None
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
