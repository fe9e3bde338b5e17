"""Screening at scale: the materials-screening flow on 1,000 and 10,000 generated candidates (static energies and
hull, no relaxation, shortlist 0), against a bare Python loop making the same surrogate calls, in one run.

    .venv/bin/python benchmarks/screening.py                      # 1,000 and 10,000 candidates (issue 14's figures)
    .venv/bin/python benchmarks/screening.py --quick              # 200 and 1,000, 8 relaxations: a short run
    .venv/bin/python benchmarks/screening.py --sizes 300 --save figures.json

Each flow runs in a child process, `qcflow screen --generate N --shortlist 0 --out ...`, with a fresh
QCFLOW_RESULTS_DIR (nothing is reused from a cache) but one QCFLOW_HOME and PREFECT_HOME for the whole benchmark.
The elemental references of every element the largest size contains are computed (or found) beforehand in a
persistent folder (--references), so the flows read them from the cache, as issue 14's target assumes.
Peak RSS is polled every 0.5 s (psutil) over the child and its descendants: the flow's process alone, and the
process tree (the embedded Prefect server and any Dask scheduler, nannies and workers included).

The baseline is the same work as a scientist would script it without Prefect, run as a child process and timed
from launch to exit exactly like the flow's `qcflow screen` (both pay their interpreter start, imports and the
CHGNet load): generate and validate, the same batches (the placement's batch size) through one CHGNet instance,
then the references (cached) and the hull. `overhead_ratio` is the flow's wall time over that script's at the
largest size; the ratio to the script's loop alone (imports and model load left out) is printed beside it. `batch_speedup` is one batched call over one call per
structure, on the same structures and instance. Relaxation throughput goes through the surrogate stage on a Dask
LocalCluster of 1 and 2 processes. The machine is shared: busy cores (classical.resources.busy_cores: other
processes' CPU use) and the load average are printed before each measurement.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import argparse
import json
import math
import os
import re
import resource
import subprocess
import tempfile
import threading
import time
from datetime import datetime
from typing import Any

import psutil

REPO = Path(__file__).resolve().parents[1]
QCFLOW = Path(sys.executable).with_name("qcflow")
SURROGATE = "chgnet"
POLL_SECONDS = 0.5
MIB = 2**20
# Flow log lines that end each phase of a run (Prefect's console log, HH:MM:SS.mmm | LEVEL | ...), in order.
PHASES = [
    ("imports", r"Starting temporary server"),
    ("Prefect API start", r"Beginning flow run"),
    ("generate + validate", r"candidates read"),
    ("broker placement", r"surrogate stage placed on"),
    ("execution history", r"surrogate stage on "),
    ("surrogate stage (batch files, tasks)", r"Flow run 'surrogate-.*' - Finished in state"),
    ("references + hull", r"shortlist:"),
    ("report + artifacts", r"Finished in state"),
]


def busy_now() -> dict[str, float]:
    """Other processes' busy cores now and the 1-minute load average (the machine is shared)."""
    from classical.resources import busy_cores

    return {"busy_cores": round(busy_cores(), 2), "load_1min": round(os.getloadavg()[0], 2)}


def say_busy(what: str) -> dict[str, float]:
    busy = busy_now()
    print(
        f"  busy before {what}: {busy['busy_cores']:.2f} runnable threads of other programs "
        f"(classical.resources.busy_cores) on {psutil.cpu_count()} cores; load average {busy['load_1min']}"
    )
    return busy


class TreeMemory:
    """Peak RSS of a process and of its process tree (sum over the tree at one sample), every POLL_SECONDS."""

    def __init__(self, pid: int) -> None:
        self.root = psutil.Process(pid)
        self.flow_peak = self.tree_peak = self.processes = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)
        self._thread.start()

    def _poll(self) -> None:
        while not self._stop.is_set():
            try:
                tree = [self.root, *self.root.children(recursive=True)]
            except psutil.Error:
                return
            total = 0
            for process in tree:
                try:
                    rss = process.memory_info().rss
                except psutil.Error:
                    continue
                total += rss
                if process.pid == self.root.pid:
                    self.flow_peak = max(self.flow_peak, rss)
            self.tree_peak = max(self.tree_peak, total)
            self.processes = max(self.processes, len(tree))
            self._stop.wait(POLL_SECONDS)

    def stop(self) -> dict[str, float]:
        self._stop.set()
        self._thread.join()
        return {
            "flow_peak_rss_mib": round(self.flow_peak / MIB, 1),
            "tree_peak_rss_mib": round(self.tree_peak / MIB, 1),
            "tree_processes": self.processes,
        }


def run_child(command: list[str], env: dict[str, str], log: Path) -> dict[str, Any]:
    """Run a command with its output in `log`; wall time, exit status, peak RSS of it and its tree."""
    started_at = datetime.now()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    with log.open("w") as stream:
        child = subprocess.Popen(command, env=env, stdout=stream, stderr=subprocess.STDOUT, cwd=REPO)
        memory = TreeMemory(child.pid)
        status = child.wait()
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {
        "wall_s": round(wall, 2),
        "exit": status,
        "started_at": started_at.isoformat(),
        "cpu_s": round(cpu, 1),
        **memory.stop(),
    }


def child_env(home: Path, results: Path, prefect_home: Path) -> dict[str, str]:
    return os.environ | {
        "QCFLOW_HOME": str(home),
        "QCFLOW_RESULTS_DIR": str(results),
        "QCFLOW_PROGRESS_BAR": "false",
        "PREFECT_HOME": str(prefect_home),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "DASK_LOGGING__DISTRIBUTED": "warning",
        "COLUMNS": "500",  # Prefect's console (rich) wraps log lines at 80 columns when not on a terminal
    }


def log_phases(log: Path, started_at: str, wall: float) -> dict[str, float]:
    """Seconds of each phase of a flow run, from the timestamps of its Prefect log lines."""
    day = datetime.fromisoformat(started_at)
    stamped = []
    for line in log.read_text(errors="replace").splitlines():
        match = re.match(r"(\d\d):(\d\d):(\d\d)\.(\d{3}) \| \w+\s*\| (.*)", line)
        if match:
            h, m, s, ms, message = match.groups()
            at = day.replace(hour=int(h), minute=int(m), second=int(s), microsecond=int(ms) * 1000)
            stamped.append(((at - day).total_seconds(), message))
    phases: dict[str, float] = {}
    previous, index = 0.0, 0
    for name, pattern in PHASES:
        hits = [(t, m) for t, m in stamped[index:] if re.search(pattern, m)]
        if not hits:
            continue
        at = hits[0][0]
        index = stamped.index(hits[0]) + 1
        phases[name] = round(at - previous, 2)
        previous = at
    phases["exit (JSON, terminal report, shutdown)"] = round(wall - previous, 2)
    return phases


def flow_run(size: int, args: argparse.Namespace, dirs: dict[str, Path], tag: str) -> dict[str, Any]:
    """One `qcflow screen --generate N` in a child process with a fresh results folder."""
    folder = dirs["scratch"] / f"flow-{tag}"
    results, out = folder / "results", folder / "report.json"
    results.mkdir(parents=True)
    command = [str(QCFLOW), "screen", "--generate", str(size), "--seed", str(args.seed), "--shortlist", "0"]
    command += ["--task-runner", args.task_runner, "--out", str(out)]
    if args.profile:
        command = [sys.executable, "-m", "cProfile", "-o", str(folder / "flow.prof"), *command]
    env = child_env(dirs["home"], results, dirs["prefect"])
    run = run_child(command, env, folder / "flow.log")
    run["log"] = str(folder / "flow.log")
    if run["exit"] != 0 or not out.exists():
        tail = (folder / "flow.log").read_text(errors="replace").splitlines()[-15:]
        raise RuntimeError(f"the flow of {size} candidates failed (exit {run['exit']}):\n" + "\n".join(tail))
    report = json.loads(out.read_text())
    segment = report["segments"][0]
    placement, execution = segment["placement"], segment["execution"]
    statuses = [c["status"] for c in report["candidates"]]
    valid = sum(1 for c in report["candidates"] if c.get("energy_per_atom") is not None)
    batch = report["parameters"].get("batch_size") or placement["options"].get("batch_size")
    run |= {
        "candidates": len(statuses),
        "ok": statuses.count("ok"),
        "rejected": statuses.count("rejected"),
        "with_energy": valid,
        "candidates_per_s": round(size / run["wall_s"], 2),
        "batch_size": batch,
        "batch_files": len(list((results / "batches").glob("*.json"))),
        "placement": placement,
        "stage_seconds": execution.get("total_seconds"),
        "phases": log_phases(folder / "flow.log", run["started_at"], run["wall_s"]),
    }
    if args.profile:
        run["profile_top"] = profile_top(folder / "flow.prof")
    return run


def profile_top(path: Path, rows: int = 25) -> str:
    import io
    import pstats

    text = io.StringIO()
    pstats.Stats(str(path), stream=text).sort_stats("cumulative").print_stats(rows)
    return text.getvalue()


def bare_script(size: int, seed: int, batch: int, references: Path, out: Path) -> None:
    """(In a child process.) The flow's work as a scientist would script it without Prefect: import, load CHGNet,
    generate and validate, the same batches through one instance, then the references (cached) and the hull.
    Writes the seconds of each part; the parent times the whole process, as it times the flow's."""
    started = time.perf_counter()
    from pymatgen.core import Composition

    from materials.generation import generated_candidates
    from materials.stability import assess_stability, elemental_references
    from materials.surrogate import load_surrogate
    from materials.validation import duplicate_problems, validate_structure

    imported = time.perf_counter()
    model = load_surrogate(SURROGATE)
    loaded, cpu_started = time.perf_counter(), time.process_time()
    candidates = generated_candidates(size, seed, model.supported_elements)
    # The generator validated each candidate for these elements (as the flow knows, `Candidate.valid_for`).
    checked = [
        c.structure
        if c.valid_for == model.supported_elements
        or validate_structure(c.structure, model.supported_elements) is None
        else None
        for c in candidates
    ]
    repeats = duplicate_problems(checked, [c.source for c in candidates])
    valid = [s for s, repeat in zip(checked, repeats, strict=True) if s is not None and repeat is None]
    validated = time.perf_counter()
    energies: list[float] = []
    for start in range(0, len(valid), batch):
        energies += model.energies_per_atom(valid[start : start + batch])
    computed = time.perf_counter()
    compositions = [s.composition for s in valid]
    elements = sorted({el.symbol for c in compositions for el in c.elements})
    found = elemental_references(elements, model, cache_dir=references)
    scored = [
        (Composition(c.reduced_formula), e)
        for c, e in zip(compositions, energies, strict=True)
        if not {el.symbol for el in c.elements} & set(found.problems)
    ]
    assess_stability([c for c, _ in scored], [e for _, e in scored], found.energies)
    done = time.perf_counter()
    result = {
        "structures": len(valid),
        "batches": math.ceil(len(valid) / batch),
        "import_s": round(imported - started, 2),
        "model_load_s": round(loaded - imported, 2),
        "validate_s": round(validated - loaded, 2),
        "surrogate_s": round(computed - validated, 2),
        "hull_s": round(done - computed, 2),
        "loop_s": round(done - loaded, 2),
        "loop_cpu_s": round(time.process_time() - cpu_started, 1),
    }
    out.write_text(json.dumps(result))


def bare_run(size: int, args: argparse.Namespace, dirs: dict[str, Path], batch: int) -> dict[str, Any]:
    """The bare script in a child process, timed from launch to exit like the flow's `qcflow screen`."""
    folder = dirs["scratch"] / f"bare-{size}"
    folder.mkdir(parents=True)
    command = [sys.executable, __file__, "--bare-child", str(size), "--bare-batch", str(batch)]
    command += ["--seed", str(args.seed), "--references", str(dirs["references"])]
    command += ["--child-out", str(folder / "bare.json")]
    run = run_child(command, child_env(dirs["home"], folder, dirs["prefect"]), folder / "bare.log")
    if run["exit"] != 0:
        tail = (folder / "bare.log").read_text(errors="replace").splitlines()[-15:]
        raise RuntimeError(
            f"the bare script of {size} candidates failed (exit {run['exit']}):\n" + "\n".join(tail)
        )
    return json.loads((folder / "bare.json").read_text()) | run


def batch_speedup(count: int, seed: int) -> dict[str, Any]:
    """Structures per second of one batched call vs one call per structure (same structures, same instance),
    each timed twice in the order one-by-one, batched, batched, one-by-one to even out the shared machine's load."""
    from pymatgen.core import Structure

    from materials.surrogate import load_surrogate
    from workflows.screening.tasks import load_and_validate

    model = load_surrogate(SURROGATE)
    valid = [s for s in load_and_validate.fn([], SURROGATE, count, seed) if s.structure is not None]
    structures = [Structure.from_dict(s.structure) for s in valid]
    model.energies_per_atom(structures[:4])  # warm-up
    seconds = {"one_by_one": 0.0, "batched": 0.0}
    for mode in ("one_by_one", "batched", "batched", "one_by_one"):
        started = time.perf_counter()
        if mode == "batched":
            model.energies_per_atom(structures)
        else:
            for structure in structures:
                model.energies_per_atom([structure])
        seconds[mode] += time.perf_counter() - started
    rates = {mode: 2 * len(structures) / s for mode, s in seconds.items()}
    return {
        "structures": len(structures),
        "model_batch_size": getattr(model, "batch_size", None),
        "one_by_one_per_s": round(rates["one_by_one"], 2),
        "batched_per_s": round(rates["batched"], 2),
        "speedup": round(rates["batched"] / rates["one_by_one"], 2),
    }


def relaxation_child(workers: int, count: int, seed: int, out: Path) -> None:
    """(In a child process.) `count` relaxations of small generated cells through the surrogate stage on a Dask
    LocalCluster of `workers` processes; writes the wall time of the stage (cluster start-up included)."""
    from classical.runners import ExecutorSettings
    from config.settings import get_settings
    from workflows.execution.task_runners import task_runner_for
    from workflows.screening.surrogate_stage import surrogate_stage, write_batches
    from workflows.screening.tasks import load_and_validate
    from workflows.terminal import prepare_embedded_prefect, start_embedded_api

    prepare_embedded_prefect()
    if problem := start_embedded_api():
        raise RuntimeError(problem)
    screened = load_and_validate.fn([], SURROGATE, 8 * count, seed)
    small = [s for s in screened if s.structure and len(s.structure["sites"]) <= 4][:count]
    batch = max(1, count // 4)
    execution = ExecutorSettings(executor="processes", workers=workers, batch_size=batch)
    batches = write_batches(small, batch, get_settings().paths.results / "batches")
    stage = surrogate_stage.with_options(
        task_runner=task_runner_for(execution), flow_run_name=f"relax-bench-x{workers}"
    )
    started = time.perf_counter()
    energies = stage(batches, True, SURROGATE, execution.model_dump())
    wall = time.perf_counter() - started
    failed = sum(1 for e in energies if e.energy_per_atom is None)
    atoms = sum(len(s.structure["sites"]) for s in small)
    result = {"workers": workers, "relaxations": len(small), "atoms": atoms, "batches": len(batches)}
    out.write_text(json.dumps(result | {"stage_wall_s": round(wall, 2), "failed": failed}))


def relaxation_runs(args: argparse.Namespace, dirs: dict[str, Path]) -> list[dict[str, Any]]:
    rows = []
    for workers in (1, 2):
        folder = dirs["scratch"] / f"relax-x{workers}"
        (folder / "results").mkdir(parents=True)
        busy = say_busy(f"relaxations on {workers} Dask worker(s)")
        command = [sys.executable, __file__, "--relaxation-child", str(workers)]
        command += ["--relaxations", str(args.relaxations), "--seed", str(args.seed)]
        command += ["--child-out", str(folder / "relax.json")]
        env = child_env(dirs["home"], folder / "results", dirs["prefect"])
        run = run_child(command, env, folder / "relax.log")
        if run["exit"] != 0:
            print(f"  relaxations on {workers} worker(s) failed; see {folder / 'relax.log'}")
            rows.append(run | busy | {"workers": workers, "failed_run": True})
            continue
        row = json.loads((folder / "relax.json").read_text()) | busy | run
        row["relaxations_per_s"] = round(row["relaxations"] / row["stage_wall_s"], 3)
        print(
            f"  {workers} worker(s): {row['relaxations']} relaxations ({row['atoms']} atoms, {row['batches']} "
            f"batches) in {row['stage_wall_s']:.1f} s (cluster start-up and model loads included) = "
            f"{row['relaxations_per_s']:.3f} relaxations/s; {row['failed']} failed; child wall {run['wall_s']:.1f} s"
        )
        rows.append(row)
    return rows


def warm_references(size: int, seed: int, references: Path) -> dict[str, Any]:
    """Compute (or find cached) the elemental references of every element the `size` candidates contain."""
    from pymatgen.core import Composition

    from materials.stability import elemental_references
    from materials.surrogate import load_surrogate
    from workflows.screening.tasks import load_and_validate

    started = time.perf_counter()
    model = load_surrogate(SURROGATE)
    loaded = time.perf_counter()
    valid = [s for s in load_and_validate.fn([], SURROGATE, size, seed) if s.structure is not None]
    elements = sorted({el.symbol for s in valid for el in Composition(s.formula).elements})
    generated = time.perf_counter()
    found = elemental_references(elements, model, cache_dir=references)
    done = time.perf_counter()
    return {
        "elements": len(elements),
        "without_reference": found.problems,
        "model_load_s": round(loaded - started, 2),
        "generate_s": round(generated - loaded, 2),
        "references_s": round(done - generated, 2),
    }


def print_flow(run: dict[str, Any], bare: dict[str, Any]) -> None:
    placement = run["placement"]
    chose = next((r for r in placement["reasons"] if r.startswith("chose")), placement["reasons"][-1])
    print(
        f"  flow: {run['wall_s']:.1f} s wall, {run['candidates_per_s']:.1f} candidates/s; peak RSS flow process "
        f"{run['flow_peak_rss_mib']:.0f} MiB, process tree {run['tree_peak_rss_mib']:.0f} MiB "
        f"({run['tree_processes']} processes at most: flow, Prefect server, Dask if placed there); "
        f"CPU of the tree {run['cpu_s']:.0f} s (rusage of reaped descendants)"
    )
    print(
        f"  candidates: {run['candidates']} ({run['ok']} ok, {run['rejected']} rejected, "
        f"{run['with_energy']} with an energy)"
    )
    tasks = math.ceil(bare["structures"] / run["batch_size"])
    print(
        f"  surrogate tasks: {run['batch_files']} (batch files written); placement batch size "
        f"{run['batch_size']} -> {tasks} tasks for {bare['structures']} valid structures; plus 3 other task runs"
    )
    estimate = placement["estimate"]
    print(
        f"  placement: {placement['resource']}/{placement['method']} options {placement['options']}, "
        f"estimated {estimate['seconds']:.0f} s; {chose}"
    )
    print(f"  stage measured (execution record): {run['stage_seconds']} s")
    print(
        "  phases (Prefect log timestamps): " + ", ".join(f"{k} {v:.1f} s" for k, v in run["phases"].items())
    )


def print_bare(bare: dict[str, Any], run: dict[str, Any]) -> None:
    rest = bare["wall_s"] - bare["import_s"] - bare["model_load_s"] - bare["loop_s"]
    print(
        f"  bare script: {bare['wall_s']:.1f} s launch to exit = imports {bare['import_s']:.1f} s + model load "
        f"{bare['model_load_s']:.1f} s + generate+validate {bare['validate_s']:.1f} s + surrogate calls "
        f"{bare['surrogate_s']:.1f} s ({bare['batches']} batches of {run['batch_size']}, one CHGNet instance) "
        f"+ references and hull {bare['hull_s']:.1f} s + interpreter start and exit {rest:.1f} s"
    )
    print(
        f"  ratio flow / bare script: {run['wall_s'] / bare['wall_s']:.3f} wall, {run['cpu_s'] / bare['cpu_s']:.3f} "
        f"CPU (bare CPU {bare['cpu_s']:.0f} s; CPU time is what a loaded machine distorts least); "
        f"flow / the script's loop alone (no imports, model loaded): {run['wall_s'] / bare['loop_s']:.3f} wall"
    )


def one_size(size: int, args: argparse.Namespace, dirs: dict[str, Path]) -> dict[str, Any]:
    print(f"\n== {size:,} generated candidates (seed {args.seed}, static energies and hull, shortlist 0) ==")
    busy_flow = say_busy("the flow")
    run = flow_run(size, args, dirs, str(size))
    busy_bare = say_busy("the bare loop")
    bare = bare_run(size, args, dirs, int(run["batch_size"]))
    print_flow(run, bare)
    print_bare(bare, run)
    if args.profile:
        print(run["profile_top"])
    return {"size": size, "flow": run | busy_flow, "bare": bare | busy_bare}


def prepare_dirs(args: argparse.Namespace) -> dict[str, Path]:
    """Scratch folder of this run; QCFLOW_HOME in it with `references` linked to the persistent cache."""
    scratch = Path(tempfile.mkdtemp(prefix="qcflow-screening-bench-"))
    home = scratch / "home"
    home.mkdir()
    references = args.references.expanduser().resolve()
    references.mkdir(parents=True, exist_ok=True)
    (home / "references").symlink_to(references, target_is_directory=True)
    return {"scratch": scratch, "home": home, "references": references, "prefect": scratch / "prefect"}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000], help="candidate counts")
    parser.add_argument("--quick", action="store_true", help="sizes 200 and 1000, 8 relaxations")
    parser.add_argument("--seed", type=int, default=0, help="seed of the generated candidates")
    parser.add_argument("--task-runner", choices=("auto", "threads", "dask"), default="auto")
    parser.add_argument("--relaxations", type=int, default=16, help="relaxations per Dask worker count")
    parser.add_argument("--speedup-structures", type=int, default=64, help="structures of the batch test")
    parser.add_argument(
        "--references",
        type=Path,
        default=Path("~/.cache/qcflow-benchmarks/screening-references"),
        help="persistent elemental-reference cache (computed once, reused by later runs)",
    )
    parser.add_argument("--profile", action="store_true", help="run the flows under cProfile (slower)")
    parser.add_argument("--save", type=Path, default=None, help="write the raw figures here as JSON")
    parser.add_argument("--relaxation-child", type=int, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--child-out", type=Path, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--bare-child", type=int, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--bare-batch", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.quick:
        args.sizes, args.relaxations = [200, 1000], 8
    args.sizes = sorted(set(args.sizes))
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.relaxation_child is not None:
        relaxation_child(args.relaxation_child, args.relaxations, args.seed, args.child_out)
        return 0
    if args.bare_child is not None:
        bare_script(args.bare_child, args.seed, args.bare_batch, args.references.expanduser(), args.child_out)
        return 0
    started = time.perf_counter()
    dirs = prepare_dirs(args)
    print(
        f"screening benchmark, {datetime.now().isoformat(timespec='seconds')}, {psutil.cpu_count()} cores "
        "SHARED with other developers' processes (busy cores and load are printed before each measurement)"
    )
    print(f"command: {' '.join([sys.executable, *sys.argv])}")
    print(f"scratch {dirs['scratch']}; QCFLOW_HOME {dirs['home']} (references -> {dirs['references']})")
    say_busy("the references")
    warm = warm_references(max(args.sizes), args.seed, dirs["references"])
    print(
        f"  references: {warm['elements']} elements in {max(args.sizes):,} candidates, ready in "
        f"{warm['references_s']:.1f} s (0 when all were cached; model load {warm['model_load_s']:.1f} s, "
        f"generate+validate {warm['generate_s']:.1f} s); without a reference: {warm['without_reference'] or 'none'}"
    )
    figures: dict[str, Any] = {"references": warm, "sizes": []}
    figures["batch"] = batch_figures(args)
    save(args.save, figures)
    for size in args.sizes[:-1]:
        figures["sizes"].append(one_size(size, args, dirs))
        save(args.save, figures)
    print("\n== relaxations through the surrogate stage on a Dask LocalCluster of processes ==")
    figures["relaxations"] = relaxation_runs(args, dirs)
    save(args.save, figures)
    figures["sizes"].append(one_size(args.sizes[-1], args, dirs))  # the largest last: the longest run
    largest = figures["sizes"][-1]
    ratio = largest["flow"]["wall_s"] / largest["bare"]["wall_s"]
    speedup = figures["batch"]["speedup"]
    print_summary(figures, ratio, time.perf_counter() - started)
    save(args.save, figures | {"overhead_ratio": ratio, "batch_speedup": speedup})
    print(f"overhead_ratio={ratio:.3f} batch_speedup={speedup:.2f}")
    return 0


def batch_figures(args: argparse.Namespace) -> dict[str, Any]:
    print("\n== batched prediction vs one by one ==")
    busy = say_busy("the batch test")
    speed = batch_speedup(args.speedup_structures, args.seed) | busy
    print(
        f"  {speed['structures']} structures, one instance (its batch size {speed['model_batch_size']}): "
        f"batched {speed['batched_per_s']:.1f}/s, one by one {speed['one_by_one_per_s']:.1f}/s, "
        f"speed-up {speed['speedup']:.2f}x (target >= 3)"
    )
    return speed


def save(path: Path | None, figures: dict[str, Any]) -> None:
    """Write the figures so far (after every step: a run cut short keeps what it measured)."""
    if path is not None:
        path.write_text(json.dumps(figures, indent=1, default=str))


def print_summary(figures: dict[str, Any], ratio: float, total: float) -> None:
    sizes, speed, relaxations = figures["sizes"], figures["batch"], figures["relaxations"]
    print("\n== summary ==")
    print(
        "  size    wall s  cand/s  flow RSS MiB  tree RSS MiB  tasks  flow/bare  CPU ratio  flow/calls  placement"
    )
    for row in sizes:
        flow, bare = row["flow"], row["bare"]
        label = f"{flow['placement']['resource']}/{flow['placement']['method']}"
        print(
            f"  {row['size']:>6}  {flow['wall_s']:>6.1f}  {flow['candidates_per_s']:>6.1f}  "
            f"{flow['flow_peak_rss_mib']:>12.0f}  {flow['tree_peak_rss_mib']:>12.0f}  {flow['batch_files']:>5}  "
            f"{flow['wall_s'] / bare['wall_s']:>9.3f}  {flow['cpu_s'] / bare['cpu_s']:>9.3f}  "
            f"{flow['wall_s'] / bare['surrogate_s']:>10.3f}  {label}"
        )
    largest = sizes[-1]
    within = largest["flow"]["wall_s"] <= 600
    print(
        f"  {largest['size']:,} candidates in {largest['flow']['wall_s']:.0f} s: "
        f"{'within' if within else 'OVER'} the 10-minute target; overhead ratio {ratio:.3f} (target <= 1.05); "
        f"batch speed-up {speed['speedup']:.2f} (target >= 3)"
    )
    for row in relaxations:
        if "relaxations_per_s" in row:
            print(f"  relaxations on {row['workers']} Dask worker(s): {row['relaxations_per_s']:.3f}/s")
    print(f"  whole benchmark: {total:.0f} s; load average now {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    sys.exit(main())
