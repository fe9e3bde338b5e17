"""DFT surrogates: universal ML potentials that give energies (eV/atom) and relaxations in batches.

The default surrogate is CHGNet (Deng et al., "CHGNet as a pretrained universal neural network potential for
charge-informed atomistic modelling", Nat. Mach. Intell. 5, 1031 (2023)). It is trained on the Materials Project
trajectory set (MPtrj) with the MP2020 energy corrections applied, so its energies are on the MP2020-corrected
scale (GGA/GGA+U with anion and U corrections): compare them only with energies on that scale, computed with the
same model (elemental references included), and never mix them with another potential in one phase diagram.
The weights ship in the chgnet wheel, so nothing is downloaded; the model runs on the CPU.
"""

from __future__ import annotations

import contextlib
import io
import logging
import threading
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from importlib.metadata import version as package_version
from typing import TYPE_CHECKING, Protocol

from pymatgen.core import Element, Structure
from pymatgen.io.ase import AseAtomsAdaptor

from materials.surrogate_names import SURROGATE_NAMES

if TYPE_CHECKING:
    from chgnet.model import CHGNet, StructOptimizer

log = logging.getLogger(__name__)

# MPtrj holds no compound of these elements; CHGNet's embedding has rows for them but they were never trained
# (CHGNet paper: 89 elements covered, Z = 1-94 less Po, At, Rn, Fr, Ra).
_UNTRAINED_IN_MPTRJ = frozenset({"Po", "At", "Rn", "Fr", "Ra"})
CHGNET_ELEMENTS: frozenset[str] = frozenset(
    Element.from_Z(z).symbol for z in range(1, 95) if Element.from_Z(z).symbol not in _UNTRAINED_IN_MPTRJ
)


@dataclass(frozen=True)
class Relaxation:
    """A relaxed structure, its energy (eV/atom), the optimizer steps taken and whether fmax was reached."""

    structure: Structure
    energy_per_atom: float
    steps: int
    converged: bool


class Surrogate(Protocol):
    """What the screening needs from a DFT surrogate: batched energies and relaxations."""

    name: str
    version: str
    supported_elements: frozenset[str]

    def energies_per_atom(self, structures: Sequence[Structure]) -> list[float]:
        """Static energies of the structures as given (eV/atom), one batched call."""
        ...

    def relax(
        self, structures: Sequence[Structure], *, fmax: float = 0.1, steps: int = 200, relax_cell: bool = True
    ) -> list[Relaxation]:
        """Relax positions (and the cell unless relax_cell is False) until forces are below fmax (eV/Å)."""
        ...


@contextlib.contextmanager
def _without_noise_warnings() -> Iterator[None]:
    """Silence two harmless warnings: torch's scalar conversion inside chgnet (every prediction) and scipy's
    "logm result may be inaccurate" (errors ~1e-13) from ASE's FrechetCellFilter on large or skewed cells."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Converting a tensor with requires_grad=True to a scalar")
        warnings.filterwarnings("ignore", message="logm result may be inaccurate", category=RuntimeWarning)
        yield


@contextlib.contextmanager
def _torch_threads(threads: int | None) -> Iterator[None]:
    """Run the block with torch's intra-op thread count set to `threads` (None: leave it alone)."""
    import torch

    previous = torch.get_num_threads()
    if threads is not None and threads != previous:
        torch.set_num_threads(threads)
    try:
        yield
    finally:
        if torch.get_num_threads() != previous:
            torch.set_num_threads(previous)


_REDIRECTING = threading.Lock()


class CHGNetSurrogate:
    """CHGNet on the CPU: batched `predict_structure` for energies, FIRE (chgnet's StructOptimizer) to relax.

    Calls are serialised by a lock, so one instance can be shared by threads (the ASE calculator keeps state).
    A structure with an atom that has no neighbour within 6 Å raises ValueError (chgnet's isolated-atom check).
    `torch_threads` sets torch's intra-op threads during each call (restored after): screening cells are small,
    and on a busy 2-core machine 2 threads made a 12-step MgO relaxation 10-25x slower than 1 (20-50 s vs 2 s).
    """

    name = "chgnet"

    def __init__(
        self, model_name: str = "0.3.0", batch_size: int = 16, torch_threads: int | None = 1
    ) -> None:
        """Load the pretrained weights bundled in the chgnet wheel, silencing chgnet's prints on stdout."""
        from chgnet.model import CHGNet, StructOptimizer

        if batch_size < 1:
            raise ValueError(f"batch_size={batch_size} must be at least 1; pass e.g. batch_size=16")
        if torch_threads is not None and torch_threads < 1:
            raise ValueError(
                f"torch_threads={torch_threads} must be at least 1, or None to keep torch's setting"
            )
        self.torch_threads = torch_threads
        # chgnet prints its parameter count and device. redirect_stdout swaps the process-wide sys.stdout, so two
        # threads loading at once could restore each other's buffer and silence the program: one at a time.
        with _REDIRECTING, contextlib.redirect_stdout(io.StringIO()):
            self._model: CHGNet = CHGNet.load(model_name=model_name, use_device="cpu", verbose=False)
            self._optimizer: StructOptimizer = StructOptimizer(
                model=self._model, optimizer_class="FIRE", use_device="cpu", on_isolated_atoms="error"
            )
        self._lock = threading.Lock()
        self.batch_size = batch_size
        self.version = self.version_of(model_name)
        self.supported_elements = CHGNET_ELEMENTS
        log.info("loaded %s (%d parameters) on cpu", self.version, self._model.n_params)

    @staticmethod
    def version_of(model_name: str = "0.3.0") -> str:
        """The version string of CHGNet with these weights (package and model), without loading them."""
        return f"chgnet-{package_version('chgnet')}/model-{model_name}"

    def energies_per_atom(self, structures: Sequence[Structure]) -> list[float]:
        """Static CHGNet energies (eV/atom, MP2020-corrected scale) in batches of `batch_size`.

        Energies need no gradient (chgnet computes forces and stresses only for tasks that ask for them), so the
        prediction runs under torch's inference mode: 2-2.5x faster on small cells than with autograd recording.
        """
        if not structures:
            return []
        import torch

        with (
            self._lock,
            _without_noise_warnings(),
            _torch_threads(self.torch_threads),
            torch.inference_mode(),
        ):
            predictions = self._model.predict_structure(
                list(structures), task="e", batch_size=self.batch_size
            )
        if isinstance(predictions, dict):
            predictions = [predictions]
        return [float(prediction["e"]) for prediction in predictions]

    def relax(
        self, structures: Sequence[Structure], *, fmax: float = 0.1, steps: int = 200, relax_cell: bool = True
    ) -> list[Relaxation]:
        """FIRE relaxations (cell too, through ASE's FrechetCellFilter, unless relax_cell is False).

        fmax is in eV/Å; energies of the final structures come from one batched prediction so they are on
        exactly the footing of `energies_per_atom`.
        """
        if fmax <= 0:
            raise ValueError(f"fmax={fmax} eV/Å must be positive; the usual value is 0.1")
        if steps < 1:
            raise ValueError(f"steps={steps} must be at least 1; the usual value is 200")
        with self._lock, _without_noise_warnings(), _torch_threads(self.torch_threads):
            relaxed = [self._relax_one(structure, fmax, steps, relax_cell) for structure in structures]
        energies = self.energies_per_atom([structure for structure, _, _ in relaxed])
        return [
            Relaxation(structure=structure, energy_per_atom=energy, steps=taken, converged=converged)
            for (structure, taken, converged), energy in zip(relaxed, energies, strict=True)
        ]

    def _relax_one(
        self, structure: Structure, fmax: float, steps: int, relax_cell: bool
    ) -> tuple[Structure, int, bool]:
        """One relaxation with the StructOptimizer's calculator and optimizer; returns (structure, steps, done)."""
        from ase.filters import FrechetCellFilter

        atoms = AseAtomsAdaptor.get_atoms(structure)
        atoms.calc = self._optimizer.calculator
        target = FrechetCellFilter(atoms) if relax_cell else atoms
        optimizer = self._optimizer.optimizer_class(target, logfile=None)
        converged = bool(optimizer.run(fmax=fmax, steps=steps))
        final = AseAtomsAdaptor.get_structure(atoms)
        for key in list(final.site_properties):
            final.remove_site_property(key)
        return final, int(optimizer.nsteps), converged


_SURROGATES = dict(zip(SURROGATE_NAMES, (CHGNetSurrogate,), strict=True))


_LOADED: dict[str, Surrogate] = {}
_LOADING = threading.Lock()


def new_surrogate(name: str = "chgnet", *, torch_threads: int | None = 1) -> Surrogate:
    """A fresh instance of the named surrogate, for a thread of its own (an instance serialises its callers)."""
    if name not in _SURROGATES:
        raise ValueError(f"surrogate name={name!r} is unknown; choose one of {sorted(_SURROGATES)}")
    return _SURROGATES[name](torch_threads=torch_threads)


def surrogate_version(name: str = "chgnet") -> str:
    """The version string a fresh instance of the named surrogate would have, without loading its weights."""
    if name not in _SURROGATES:
        raise ValueError(f"surrogate name={name!r} is unknown; choose one of {sorted(_SURROGATES)}")
    return _SURROGATES[name].version_of()


def load_surrogate(name: str = "chgnet") -> Surrogate:
    """The named surrogate, loaded once per process even under threads (loading CHGNet takes a few seconds)."""
    if name not in _SURROGATES:
        raise ValueError(f"surrogate name={name!r} is unknown; choose one of {sorted(_SURROGATES)}")
    with _LOADING:
        if name not in _LOADED:
            _LOADED[name] = _SURROGATES[name]()
        return _LOADED[name]
