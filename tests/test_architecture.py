"""The dependency direction (pyproject.toml, [tool.importlinter]) holds, and would catch a wrong-way import."""

from __future__ import annotations

import copy
from pathlib import Path

import grimp
import pytest
from importlinter.application.use_cases import read_user_options
from importlinter.configuration import configure
from importlinter.contracts.forbidden import ForbiddenContract
from importlinter.contracts.layers import LayersContract

ROOT = Path(__file__).resolve().parent.parent
CONTRACT_TYPES = {"layers": LayersContract, "forbidden": ForbiddenContract}


@pytest.fixture(scope="module")
def options():
    configure()  # what the lint-imports command does first: registers the pyproject.toml reader
    return read_user_options(config_filename=str(ROOT / "pyproject.toml"))


@pytest.fixture(scope="module")
def project_graph(options):
    return grimp.build_graph(*options.session_options["root_packages"])


def broken_contracts(options, graph) -> list[str]:
    contracts = [
        CONTRACT_TYPES[contract["type"]](
            name=contract["name"], session_options=options.session_options, contract_options=contract
        )
        for contract in options.contracts_options
    ]
    return [contract.name for contract in contracts if not contract.check(graph, verbose=False).kept]


def test_the_code_keeps_every_import_contract(options, project_graph):
    # given the project's import graph
    # when every contract is checked
    broken = broken_contracts(options, copy.deepcopy(project_graph))

    # then none is broken, and both contracts were there to check
    assert broken == []
    assert {contract["type"] for contract in options.contracts_options} == {"layers", "forbidden"}


@pytest.mark.parametrize(
    ("importer", "imported", "expected"),
    [
        ("catalog.selectors", "recommender.queries", {"layers", "catalog-recommender"}),
        ("catalog.admin.products", "recommender.admin.boxes", {"layers", "catalog-recommender"}),
        ("fashionrec.api.fields", "catalog.models", {"layers"}),
        ("recommender.selectors", "users.models", {"layers"}),
        ("users.services.preferences", "storefront.views", {"layers"}),
    ],
)
def test_a_new_import_the_wrong_way_breaks_a_contract(options, project_graph, importer, imported, expected):
    # given the project's graph with one import added against the direction
    graph = copy.deepcopy(project_graph)
    graph.add_import(importer=importer, imported=imported, line_number=1, line_contents=f"import {imported}")

    # when the contracts are checked
    broken = broken_contracts(options, graph)

    # then the contracts that forbid it say so
    names = {"layers" if name.startswith("Layers") else "catalog-recommender" for name in broken}
    assert names == expected
