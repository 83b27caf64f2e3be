"""The own-repository contract type catches what it is meant to catch (and nothing else)."""

from __future__ import annotations

import grimp

from tests.architecture.contracts import OwnRepositoryContract

BLOCKS = "app.blocks"


def _graph(*imports: tuple[str, str]) -> grimp.ImportGraph:
    graph = grimp.ImportGraph()
    for module in ("app", BLOCKS, f"{BLOCKS}.a", f"{BLOCKS}.b"):
        graph.add_module(module)
    for importer, imported in imports:
        graph.add_import(importer=importer, imported=imported, line_number=3, line_contents="import x")
    return graph


def _check(graph: grimp.ImportGraph) -> list[str]:
    contract = OwnRepositoryContract(
        name="own",
        session_options={},
        contract_options={"blocks_package": BLOCKS, "private_modules": ["repository"]},
    )
    violations: list[str] = contract.check(graph, verbose=False).metadata["violations"]
    return violations


def test_a_block_may_import_its_own_repository_and_other_blocks_services() -> None:
    graph = _graph(
        (f"{BLOCKS}.a.service", f"{BLOCKS}.a.repository"),
        (f"{BLOCKS}.a.api.routes", f"{BLOCKS}.a.repository"),
        (f"{BLOCKS}.b.service", f"{BLOCKS}.a.service"),
    )
    assert _check(graph) == []


def test_another_blocks_repository_is_refused_wherever_the_importer_lives() -> None:
    graph = _graph(
        (f"{BLOCKS}.b.service", f"{BLOCKS}.a.repository"),
        ("app.composition", f"{BLOCKS}.b.repository.tables"),
    )
    assert _check(graph) == [
        f"{BLOCKS}.b.service imports {BLOCKS}.a.repository (l.3)",
        f"app.composition imports {BLOCKS}.b.repository.tables (l.3)",
    ]
