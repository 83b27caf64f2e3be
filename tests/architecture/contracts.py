"""Import-linter contract types of our own (see ``[tool.importlinter]`` in pyproject.toml).

``own_repository``: a CSMS block's repository is its private storage. Other blocks reach its data through
the service it provides (``BlockContext.provide``), so a block can change its tables and SQL without
breaking anyone. Written as a contract type rather than one ``protected`` contract per block, so that a
block added tomorrow is covered without touching the configuration.
"""

from __future__ import annotations

import grimp
from importlinter import Contract, ContractCheck, fields, output


class OwnRepositoryContract(Contract):
    """No module outside ``<blocks>.<name>`` imports ``<blocks>.<name>.<private>`` (any depth)."""

    type_name = "own_repository"

    blocks_package = fields.StringField()
    private_modules = fields.ListField(subfield=fields.StringField())

    def check(self, graph: grimp.ImportGraph, verbose: bool) -> ContractCheck:
        package = str(self.blocks_package)
        private = {str(name) for name in self.private_modules}
        depth = package.count(".") + 1
        violations: list[str] = []
        for imported in sorted(graph.find_descendants(package)):
            parts = imported.split(".")
            if len(parts) <= depth + 1 or parts[depth + 1] not in private:
                continue
            owner = ".".join(parts[: depth + 1])
            for importer in sorted(graph.find_modules_that_directly_import(imported)):
                if importer != owner and not importer.startswith(owner + "."):
                    line = _first_line(graph, importer, imported)
                    violations.append(f"{importer} imports {imported}{line}")
        return ContractCheck(kept=not violations, metadata={"violations": violations})

    def render_broken_contract(self, check: ContractCheck) -> None:
        for violation in check.metadata["violations"]:
            output.print_error(f"- {violation}", bold=False)
        output.new_line()
        output.print("Use the service the owning block provides (context.require) instead.")


def _first_line(graph: grimp.ImportGraph, importer: str, imported: str) -> str:
    details = graph.get_import_details(importer=importer, imported=imported)
    return f" (l.{details[0]['line_number']})" if details else ""
