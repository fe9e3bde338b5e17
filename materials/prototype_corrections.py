"""Corrections to AFLOW prototypes as pymatgen ships them, and the entries too broken to use.

pymatgen's `aflow_prototypes.json.gz` is the 2017 first part of the AFLOW library (Mehl et al., Comput. Mater.
Sci. 136, S1 (2017)). Some of its entries have a wrong lattice constant, a Wyckoff parameter given in the other
origin choice, or atoms moved by a misread cell setting, and the AFLOW encyclopedia (aflow.org/p/<label>-001) has
since corrected several. Each entry is rebuilt here from its space group, Wyckoff positions and lattice constants,
with the source of every number; tests/materials/test_bundled_candidates.py checks the resulting bond lengths
against the measured ones. Found by scanning every prototype qcflow uses (bundled candidates, the formation-energy
benchmark, elemental reference trials) for atoms closer than 0.75 of the sum of their covalent radii and for a
volume per atom far (x1.5) from that of the elements.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from pymatgen.core import Lattice, Structure


def cooperite_pts() -> Structure:
    """PtS (cooperite, B17), P4_2/mmc: Pt 2c (0, 1/2, 0), S 2e (0, 0, 1/4); Pt-S 2.31 Å.

    pymatgen ships a = 4.9073 Å, sqrt(2) times too large (half the density); the AFLOW page AB_tP4_131_c_e-001
    corrects it to a = 3.47 Å. c = 6.1096 Å as shipped (Grønvold, Haraldsen & Kjekshus, Acta Chem. Scand. 14,
    1879 (1960)).
    """
    lattice = Lattice.tetragonal(3.47, 6.1096)
    return Structure.from_spacegroup("P4_2/mmc", lattice, ["Pt", "S"], [[0, 0.5, 0], [0, 0, 0.25]])


def anatase_tio2() -> Structure:
    """TiO2 anatase (C5), I4_1/amd, origin choice 1: Ti 4a (0, 0, 0), O 8e (0, 0, z), z = 0.2081; primitive cell.

    a = 3.785 Å, c = 9.514 Å and z = 0.2081 as shipped (Cromer & Herrington, J. Am. Chem. Soc. 77, 4708 (1955)),
    but pymatgen's entry applies z = 0.2081 in origin choice 2 (Ti at 0, 3/4, 1/8), where the same oxygen sits at
    z = 0.2081 - 1/8; the shipped cell puts each Ti in a tetrahedron of four O at 2.05 Å (none other within 2.9 Å)
    instead of the TiO6 octahedron, Ti-O 1.934 Å x 4 and 1.980 Å x 2.
    """
    lattice = Lattice.tetragonal(3.785, 9.514)
    conventional = Structure.from_spacegroup("I4_1/amd", lattice, ["Ti", "O"], [[0, 0, 0], [0, 0, 0.2081]])
    return conventional.get_primitive_structure()


def brookite_tio2() -> Structure:
    """TiO2 brookite (C21), Pbca, a = 9.174, b = 5.449, c = 5.138 Å (Baur, Acta Cryst. 14, 214 (1961)).

    pymatgen ships b = 3.449 Å (a typo for 5.449; Ti-O down to 1.55 Å, 6.8 Å^3/atom instead of 10.7); the
    Wyckoff parameters are the shipped ones: Ti 8c (0.1289, 0.0972, 0.8628), O 8c (0.0095, 0.1491, 0.1835) and
    (0.2314, 0.1110, 0.5366).
    """
    lattice = Lattice.orthorhombic(9.174, 5.449, 5.138)
    coords = [[0.1289, 0.0972, 0.8628], [0.0095, 0.1491, 0.1835], [0.2314, 0.1110, 0.5366]]
    return Structure.from_spacegroup("Pbca", lattice, ["Ti", "O", "O"], coords)


def b19_prime_niti() -> Structure:
    """NiTi martensite (B19'), P2_1/m unique axis b: Ni 2e (0.0387, 3/4, 0.1748), Ti 2e (0.4113, 3/4, 0.7184).

    a = 2.8837, b = 4.1062, c = 4.6674 Å, beta = 97.938 deg and the four coordinates are the shipped ones, from
    Sitepu, Schmahl & Stalick (2002), who give them in the unique-axis-c setting. The AFLOW page AB_mP4_11_e_e-001
    notes that the 2017 transformation to unique axis b used 180 deg - beta and moved the Ni atoms by c/2, which
    put Ni and Ti 1.45 Å apart; transformed again here ((a, b, c)_b = (a, -c, b)_c, so (x, y, z)_b = (x, -z, y)_c),
    Ni-Ti is 2.51-2.62 Å and Ni-Ni 2.61 Å, as in B2 NiTi (2.61 Å).
    """
    lattice = Lattice.monoclinic(2.8837, 4.1062, 4.6674, 97.938)
    return Structure.from_spacegroup(
        "P2_1/m", lattice, ["Ni", "Ti"], [[0.0387, 0.75, 0.1748], [0.4113, 0.75, 0.7184]]
    )


def b27_feb() -> Structure:
    """FeB (B27), Pnma: Fe 4c (0.180, 1/4, 0.125), B 4c (0.036, 1/4, 0.610) (Bjurström, Ark. Kemi Mineral. Geol.
    11A, 1 (1933)); a = 5.495, b = 2.946, c = 4.053 Å as shipped.

    pymatgen's boron sites are wrong (Fe-B 1.67 Å, no boron chain); here B-B is 1.77 Å (zigzag chains) and Fe-B
    2.12-2.23 Å.
    """
    lattice = Lattice.orthorhombic(5.495, 2.946, 4.053)
    return Structure.from_spacegroup(
        "Pnma", lattice, ["Fe", "B"], [[0.180, 0.25, 0.125], [0.036, 0.25, 0.610]]
    )


def bc8_silicon() -> Structure:
    """Si BC8, Ia-3: Si 16c (x, x, x), x = 0.1003, a = 6.636 Å (Kasper & Richards, Acta Cryst. 17, 752 (1964));
    primitive cell of 8 atoms.

    pymatgen ships x right but a = 4.120 Å (Si-Si 1.43 Å, 4.4 Å^3/atom instead of 18.3).
    """
    conventional = Structure.from_spacegroup("Ia-3", Lattice.cubic(6.636), ["Si"], [[0.1003, 0.1003, 0.1003]])
    return conventional.get_primitive_structure()


def body_centred_tetragonal_indium() -> Structure:
    """In (A6), I4/mmm: In 2a, a = 4.6002 / sqrt(2) = 3.2529 Å, c = 4.9463 Å; primitive cell of 1 atom.

    pymatgen ships a = 4.6002 Å, the a of the face-centred tetragonal description, in the body-centred cell: twice
    the real volume per atom (52.3 instead of 26.2 Å^3).
    """
    lattice = Lattice.tetragonal(4.6002 / math.sqrt(2), 4.9463)
    return Structure.from_spacegroup("I4/mmm", lattice, ["In"], [[0, 0, 0]]).get_primitive_structure()


# "<formula>-<AFLOW label>" -> the corrected structure.
CORRECTED_PROTOTYPES: dict[str, Callable[[], Structure]] = {
    "PtS-AB_tP4_131_c_e": cooperite_pts,
    "TiO2-A2B_tI12_141_e_a": anatase_tio2,
    "TiO2-A2B_oP24_61_2c_c": brookite_tio2,
    "TiNi-AB_mP4_11_e_e": b19_prime_niti,
    "FeB-AB_oP8_62_c_c": b27_feb,
    "Si-A_cI16_206_c": bc8_silicon,
    "In-A_tI2_139_a": body_centred_tetragonal_indium,
}

# Entries with impossible geometry and no parameters at hand to rebuild them: left out of the library.
DROPPED_PROTOTYPES: dict[str, str] = {
    "Ag2Se-A2B_oP12_19_2a_a": "naumannite with Ag-Se 2.07 Å and Ag-Ag 2.32 Å (measured Ag-Se 2.6-2.8 Å)",
    "GeS2-AB2_oF72_43_ab_3b": "S-S 1.28 Å where GeS2 has no S-S bond (S2 molecule: 1.89 Å)",
    # Not used by qcflow (no measured enthalpy, not elemental), but they fail validate_structure's close-contact
    # check, so they are left out of the library too.
    "NiSbS-ABC_cP12_198_a_a_a": "Ni-Sb 1.03 Å",
    "Cr4Fe4Ni4PdRh2-sigma_tP30_136_bf2ij": "Pd-Rh 1.26 Å",
    "MgNi2-AB2_hP24_194_ef_fgh": "Mg-Mg 1.46 Å",
}
