"""The CHGNet surrogate: offline, quiet, batched energies equal one-by-one ones, relaxation lowers the energy."""

from __future__ import annotations

import math

import pytest
from pymatgen.core import Lattice, Structure

from materials.surrogate import CHGNET_ELEMENTS, CHGNetSurrogate, Relaxation, load_surrogate


@pytest.fixture(scope="module")
def chgnet() -> CHGNetSurrogate:
    return load_surrogate("chgnet")


def test_load_is_cached_and_names_the_model(chgnet: CHGNetSurrogate) -> None:
    assert load_surrogate("chgnet") is chgnet
    assert chgnet.name == "chgnet"
    assert chgnet.version.startswith("chgnet-0.") and "model-0.3.0" in chgnet.version


def test_unknown_surrogate_lists_the_known_names() -> None:
    with pytest.raises(ValueError, match="chgnet"):
        load_surrogate("dft-in-a-box")


def test_covers_89_elements(chgnet: CHGNetSurrogate) -> None:
    # Deng et al., Nat. Mach. Intell. 2023: CHGNet is trained on MPtrj, which covers 89 elements.
    assert len(CHGNET_ELEMENTS) == 89
    assert {"H", "O", "Fe", "U", "Pu"} <= chgnet.supported_elements
    assert "Po" not in chgnet.supported_elements


def test_loading_and_predicting_print_nothing(
    capfd: pytest.CaptureFixture[str], rocksalt_mgo: Structure
) -> None:
    surrogate = CHGNetSurrogate(batch_size=2)
    surrogate.energies_per_atom([rocksalt_mgo])
    surrogate.relax([rocksalt_mgo], steps=2)
    captured = capfd.readouterr()
    assert captured.out == ""


def test_batched_equals_one_by_one(chgnet: CHGNetSurrogate, make_rocksalt) -> None:
    structures = [
        make_rocksalt("Mg", "O", 4.212),
        make_rocksalt("Na", "Cl", 5.64),
        make_rocksalt("Li", "F", 4.027).get_primitive_structure(),
        Structure.from_spacegroup(
            "Pm-3m", Lattice.cubic(3.905), ["Sr", "Ti", "O"], [[0, 0, 0], [0.5] * 3, [0.5, 0.5, 0]]
        ),
    ]
    batched = chgnet.energies_per_atom(structures)
    small_batches = CHGNetSurrogate(batch_size=3).energies_per_atom(structures)
    one_by_one = [chgnet.energies_per_atom([s])[0] for s in structures]
    assert all(math.isfinite(e) for e in batched)
    assert batched == pytest.approx(one_by_one, abs=1e-4)
    assert small_batches == pytest.approx(one_by_one, abs=1e-4)
    assert chgnet.energies_per_atom([]) == []


def test_energy_per_atom_is_intensive(chgnet: CHGNetSurrogate, rocksalt_mgo: Structure) -> None:
    primitive = rocksalt_mgo.get_primitive_structure()
    conventional, supercell = chgnet.energies_per_atom([rocksalt_mgo, rocksalt_mgo * (2, 1, 1)])
    assert len(primitive) == 2
    assert chgnet.energies_per_atom([primitive])[0] == pytest.approx(conventional, abs=1e-4)
    assert supercell == pytest.approx(conventional, abs=1e-4)


def test_relaxation_lowers_the_energy_of_a_strained_cell(chgnet: CHGNetSurrogate, make_rocksalt) -> None:
    strained = make_rocksalt("Mg", "O", 4.6).get_primitive_structure()  # 9 % wider than experiment
    (start,) = chgnet.energies_per_atom([strained])
    (relaxation,) = chgnet.relax([strained], fmax=0.05, steps=200)
    assert isinstance(relaxation, Relaxation)
    assert relaxation.converged and 1 <= relaxation.steps < 200
    assert relaxation.energy_per_atom < start - 0.01
    assert relaxation.energy_per_atom == pytest.approx(
        chgnet.energies_per_atom([relaxation.structure])[0], abs=1e-4
    )
    # MgO a = 4.212 Å (experiment, Wyckoff 1963); GGA-trained models land within a few percent of it.
    a_relaxed = (4 * relaxation.structure.volume) ** (1 / 3)
    assert a_relaxed == pytest.approx(4.212, rel=0.03)


def test_fixed_cell_relaxation_keeps_the_lattice(chgnet: CHGNetSurrogate, rocksalt_mgo: Structure) -> None:
    rattled = rocksalt_mgo.copy()
    rattled.translate_sites([0], [0.15, 0, 0], frac_coords=False)
    (relaxation,) = chgnet.relax([rattled], relax_cell=False)
    assert relaxation.structure.lattice.abc == pytest.approx(rattled.lattice.abc)
    assert relaxation.energy_per_atom < chgnet.energies_per_atom([rattled])[0]


@pytest.mark.parametrize(("keyword", "value"), [("fmax", 0.0), ("steps", 0)])
def test_bad_relaxation_settings_are_refused(
    chgnet: CHGNetSurrogate, rocksalt_mgo: Structure, keyword: str, value: float
) -> None:
    with pytest.raises(ValueError, match=keyword):
        chgnet.relax([rocksalt_mgo], **{keyword: value})


def test_isolated_atom_is_refused(chgnet: CHGNetSurrogate) -> None:
    lonely = Structure(Lattice.cubic(10.0), ["Na"], [[0, 0, 0]])  # no neighbour within CHGNet's 6 Å cutoff
    with pytest.raises(ValueError, match="isolated"):
        chgnet.energies_per_atom([lonely])
    with pytest.raises(ValueError, match="isolated"):
        chgnet.relax([lonely])
