"""Concentration and forcing scenarios: the bundled SSPs (RCMIP v5.1.0, from the fair 1.6.4 wheel) and user CSVs.

A scenario CSV has one row per year and one column per species, each header written ``name [unit]``:

    year,co2 [ppm],ch4 [ppb],n2o [ppb],erf_aerosol [W/m2],erf_other [W/m2],erf_volcanic [W/m2],erf_solar [W/m2]

``year`` and ``co2`` are required; a missing gas column means its pre-industrial (1750) concentration, a missing
``erf_*`` column means zero forcing. Years must be whole numbers, strictly increasing by one (no gaps).
"""

from __future__ import annotations

import csv
import hashlib
import logging
import math
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

logger = logging.getLogger(__name__)

DATA_DIR = Path(__file__).parent / "data"
# The years the emulator runs: spin-up from 1750 (or a scenario's first year), projections to 2100; a projection
# needs the 1850-1900 baseline, so a scenario must cover PROJECTION_FIRST_YEAR..EMULATED_LAST_YEAR.
EMULATED_FIRST_YEAR, EMULATED_LAST_YEAR = 1750, 2100
PROJECTION_FIRST_YEAR = 1850

# Pre-industrial (1750) concentrations, Meinshausen et al. 2020 (GMD 13, 3571) as used in IPCC AR6 WG1
# Table 7.SM.1; they equal the 1750 values of the bundled RCMIP files.
PREINDUSTRIAL_CO2_PPM = 277.15
PREINDUSTRIAL_CH4_PPB = 731.41
PREINDUSTRIAL_N2O_PPB = 273.87

# Column name -> {accepted unit: factor to the canonical unit (the first one listed)}.
SPECIES_UNITS: dict[str, dict[str, float]] = {
    "co2": {"ppm": 1.0, "ppb": 1e-3},
    "ch4": {"ppb": 1.0, "ppm": 1e3},
    "n2o": {"ppb": 1.0, "ppm": 1e3},
    "erf_aerosol": {"W/m2": 1.0, "W/m^2": 1.0},
    "erf_other": {"W/m2": 1.0, "W/m^2": 1.0},
    "erf_volcanic": {"W/m2": 1.0, "W/m^2": 1.0},
    "erf_solar": {"W/m2": 1.0, "W/m^2": 1.0},
}
PREINDUSTRIAL_DEFAULTS = {"co2": None, "ch4": PREINDUSTRIAL_CH4_PPB, "n2o": PREINDUSTRIAL_N2O_PPB}


class ScenarioError(ValueError):
    """A scenario file or name that cannot be used; the message names the column/row, the value and the fix."""


@dataclass(frozen=True)
class Scenario:
    """Annual concentrations (CO2 ppm, CH4/N2O ppb) and non-gas effective radiative forcings (W/m2)."""

    name: str
    years: np.ndarray
    co2: np.ndarray
    ch4: np.ndarray
    n2o: np.ndarray
    erf_aerosol: np.ndarray
    erf_other: np.ndarray
    erf_volcanic: np.ndarray
    erf_solar: np.ndarray

    def between(self, first_year: int, last_year: int) -> Scenario:
        """The same scenario restricted to ``first_year..last_year`` (inclusive)."""
        if first_year < self.years[0] or last_year > self.years[-1] or first_year > last_year:
            raise ScenarioError(
                f"years {first_year}-{last_year}: scenario {self.name!r} covers "
                f"{self.years[0]}-{self.years[-1]}; choose a window inside it"
            )
        keep = (self.years >= first_year) & (self.years <= last_year)
        arrays = {name: getattr(self, name)[keep] for name in ("years", *SPECIES_UNITS)}
        return replace(self, **arrays)

    def with_co2(self, co2: np.ndarray, name: str | None = None) -> Scenario:
        """The same scenario with another CO2 path (ppm, same years), e.g. after carbon removal."""
        return replace(self, co2=np.asarray(co2, dtype=float), name=name or self.name)


def available_scenarios() -> list[str]:
    """Names of the bundled scenarios (SSP concentration/forcing paths, 1750-2500)."""
    return sorted(path.stem for path in DATA_DIR.glob("*.csv"))


def load_scenario(name_or_path: str | Path) -> Scenario:
    """A bundled scenario by name (``ssp245``) or a user CSV by path, validated."""
    text = str(name_or_path)
    if text in available_scenarios():
        return read_scenario_csv(DATA_DIR / f"{text}.csv", name=text)
    path = Path(text)
    if path.suffix.lower() == ".csv" and path.is_file():
        return read_scenario_csv(path, name=path.stem)
    raise ScenarioError(
        f"scenario={text!r} is neither a bundled scenario nor an existing .csv file; "
        f"use one of {available_scenarios()} or the path of a scenario CSV"
    )


def scenario_name(scenario: str) -> str:
    """A bundled scenario's name, or a CSV's file stem."""
    return scenario if scenario in available_scenarios() else Path(scenario).stem


def scenario_sha256(scenario: str) -> str:
    """Digest of a user CSV's bytes (a cache-key input, so an edited file is recomputed); '' for bundled ones."""
    if scenario in available_scenarios():
        return ""
    return hashlib.sha256(Path(scenario).read_bytes()).hexdigest()


def emulated_scenario(scenario: str) -> Scenario:
    """The scenario restricted to the emulated years (from 1750, or its first year, to 2100)."""
    loaded = load_scenario(scenario)
    return loaded.between(max(EMULATED_FIRST_YEAR, int(loaded.years[0])), EMULATED_LAST_YEAR)


def projection_coverage_problem(scenario: str) -> str | None:
    """Why a scenario cannot be projected (it misses part of 1850-2100), or None; reading it validates the file."""
    years = load_scenario(scenario).years
    if years[0] <= PROJECTION_FIRST_YEAR and years[-1] >= EMULATED_LAST_YEAR:
        return None
    return (
        f"{scenario!r} covers {years[0]}-{years[-1]}; it must cover {PROJECTION_FIRST_YEAR}-{EMULATED_LAST_YEAR} "
        "(the 1850-1900 baseline and the 2081-2100 projection): extend the file"
    )


def read_scenario_csv(path: Path, name: str) -> Scenario:
    """Read and validate a scenario CSV (see the module docstring for the format)."""
    with open(path, newline="") as handle:
        rows = [row for row in csv.reader(handle) if any(cell.strip() for cell in row)]
    if not rows:
        raise ScenarioError(
            f"{path}: the file is empty; write a header row 'year,co2 [ppm],...' and one row a year"
        )
    columns = _parse_header(rows[0], path)
    body = rows[1:]
    if not body:
        raise ScenarioError(f"{path}: no data rows after the header; add one row per year")
    values = _parse_body(body, len(rows[0]), path)
    years = _validate_years(values[:, 0], path)
    data: dict[str, np.ndarray] = {}
    for species in SPECIES_UNITS:
        if species in columns:
            index, factor = columns[species]
            data[species] = values[:, index] * factor
        elif species.startswith("erf_"):
            data[species] = np.zeros(len(years))
        else:
            data[species] = np.full(len(years), PREINDUSTRIAL_DEFAULTS[species])
    _check_positive(data, years, path)
    logger.debug("read scenario %s: %d years %d-%d", name, len(years), years[0], years[-1])
    return Scenario(name=name, years=years, **data)


def _parse_header(header: list[str], path: Path) -> dict[str, tuple[int, float]]:
    """Map each species to (column index, unit factor); the year must be column 0."""
    if not header or header[0].strip().lower() not in ("year", "year [yr]"):
        first = header[0] if header else ""
        raise ScenarioError(f"{path}: column 1 is {first!r}; the first column must be 'year'")
    columns: dict[str, tuple[int, float]] = {}
    for index, raw in enumerate(header[1:], start=1):
        species, unit = _split_name_unit(raw)
        if species not in SPECIES_UNITS:
            raise ScenarioError(
                f"{path}: column {index + 1} {raw!r} is not a known species; "
                f"use one of {sorted(SPECIES_UNITS)} written as 'name [unit]'"
            )
        units = SPECIES_UNITS[species]
        if unit not in units:
            raise ScenarioError(
                f"{path}: column {raw!r} has unit {unit!r}; write it as '{species} [{next(iter(units))}]' "
                f"(accepted units: {sorted(units)})"
            )
        if species in columns:
            raise ScenarioError(f"{path}: column {raw!r} appears twice; keep one column per species")
        columns[species] = (index, units[unit])
    if "co2" not in columns:
        raise ScenarioError(f"{path}: no CO2 column; add a column 'co2 [ppm]' with the CO2 concentration")
    return columns


def _split_name_unit(raw: str) -> tuple[str, str]:
    text = raw.strip()
    if "[" in text and text.endswith("]"):
        name, unit = text[:-1].split("[", 1)
        return name.strip().lower(), unit.strip()
    return text.lower(), ""


def _parse_body(body: list[list[str]], width: int, path: Path) -> np.ndarray:
    values = np.empty((len(body), width))
    for row_number, row in enumerate(body, start=2):
        if len(row) != width:
            raise ScenarioError(
                f"{path}: row {row_number} has {len(row)} values but the header has {width} columns; "
                "give every row one value per column"
            )
        for column, cell in enumerate(row):
            try:
                value = float(cell)
            except ValueError:
                value = math.nan
            if not math.isfinite(value):
                raise ScenarioError(
                    f"{path}: row {row_number}, column {column + 1} holds {cell!r}, not a finite number; "
                    "write a number there"
                ) from None
            values[row_number - 2, column] = value
    return values


def _validate_years(raw_years: np.ndarray, path: Path) -> np.ndarray:
    if np.any(raw_years != np.round(raw_years)):
        row = int(np.argmax(raw_years != np.round(raw_years))) + 2
        raise ScenarioError(f"{path}: row {row} year {raw_years[row - 2]} is not a whole year; use integers")
    years = raw_years.astype(int)
    steps = np.diff(years)
    if np.any(steps != 1):
        bad = int(np.argmax(steps != 1))
        problem = "is not after" if steps[bad] <= 0 else "leaves a gap after"
        raise ScenarioError(
            f"{path}: row {bad + 3} year {years[bad + 1]} {problem} year {years[bad]} (row {bad + 2}); "
            "years must increase by exactly 1 with no gaps"
        )
    return years


def _check_positive(data: dict[str, np.ndarray], years: np.ndarray, path: Path) -> None:
    for species in ("co2", "ch4", "n2o"):
        bad = np.flatnonzero(data[species] <= 0)
        if bad.size:
            raise ScenarioError(
                f"{path}: column {species!r} at year {years[bad[0]]} (row {bad[0] + 2}) is "
                f"{data[species][bad[0]]:g}; concentrations must be positive"
            )


def one_percent_co2_scenario(years: int = 150) -> Scenario:
    """The idealised 1pctCO2 experiment: CO2 rises 1 %/yr from 1750 levels, nothing else changes (CMIP6 DECK)."""
    steps = np.arange(years + 1)
    co2 = PREINDUSTRIAL_CO2_PPM * 1.01**steps
    zeros = np.zeros(years + 1)
    return Scenario(
        name="1pctCO2",
        years=steps,
        co2=co2,
        ch4=np.full(years + 1, PREINDUSTRIAL_CH4_PPB),
        n2o=np.full(years + 1, PREINDUSTRIAL_N2O_PPB),
        erf_aerosol=zeros,
        erf_other=zeros,
        erf_volcanic=zeros,
        erf_solar=zeros,
    )
