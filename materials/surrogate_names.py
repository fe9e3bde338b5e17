"""Names of the DFT surrogates qcflow can load, kept apart from their (pymatgen-importing) implementations so that
settings can check a name at start-up for free."""

SURROGATE_NAMES: tuple[str, ...] = ("chgnet",)
