"""Summarize the last ``mutmut run``: killed/total per file, then every surviving mutant with its diff.

Run from the project root after ``mutmut run`` (``make mutation`` does both). Mutants that were not run
(``not checked``, e.g. when ``MUTANTS=`` narrowed the run) are left out of the totals. With ``--check FILE``
it exits 1 when a mutant survives (or no fast test runs it) that FILE does not list as equivalent (one no
test can tell apart from the original, each with its reason): CI runs it so, so that the tests keep pinning
the rules.
"""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from collections import Counter, defaultdict
from pathlib import Path

KILLED = {"killed", "timeout", "caught by type check"}
NOT_RUN = {"not checked", "skipped"}
RESULT = re.compile(r"^\s*(?P<name>\S+)__mutmut_(?P<number>\d+): (?P<status>.+?)\s*$")
FUNCTION = re.compile(r"^(?P<module>.+?)\.x(?:_(?P<function>\w+)|ǁ(?P<cls>\w+)ǁ(?P<method>\w+))$")
HUNK = re.compile(r"^@@ -(?P<start>\d+)")


def mutmut(*args: str) -> str:
    done = subprocess.run([sys.executable, "-m", "mutmut", *args], capture_output=True, text=True, check=True)
    return done.stdout


def source_path(module: str) -> Path:
    return Path("src", *module.split(".")).with_suffix(".py")


def def_lines(path: Path) -> dict[str, int]:
    """The line of every function and method (``Class.method``) of a file, as mutmut names them."""
    lines: dict[str, int] = {}
    tree = ast.parse(path.read_text("utf-8"))
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            lines[node.name] = node.lineno
        elif isinstance(node, ast.ClassDef):
            for item in node.body:
                if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef):
                    lines[f"{node.name}.{item.name}"] = item.lineno
    return lines


def changed_lines(mutant: str, first_line: int | None) -> list[str]:
    """``line N: -old / +new`` for each change of a mutant; N is the line in the source file."""
    out: list[str] = []
    line = 0
    for text in mutmut("show", mutant).splitlines()[3:]:
        hunk = HUNK.match(text)
        if hunk:
            line = int(hunk["start"])
            continue
        if text.startswith("+"):
            out.append(f"      + {text[1:].strip()}")
            continue
        if text.startswith("-"):
            where = f"line {first_line + line - 1}" if first_line else f"+{line}"
            out.append(f"    {where}: - {text[1:].strip()}")
        line += 1
    return out


def by_number(mutant: str) -> tuple[str, int]:
    function, _, number = mutant.rpartition("__mutmut_")
    return function, int(number)


def equivalent(path: str | None) -> set[str]:
    if path is None:
        return set()
    lines = Path(path).read_text("utf-8").splitlines()
    return {line.partition("#")[0].strip() for line in lines if line.partition("#")[0].strip()}


def main() -> int:
    allowed = equivalent(sys.argv[2] if len(sys.argv) == 3 and sys.argv[1] == "--check" else None)
    unexplained: list[str] = []
    by_file: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    for row in mutmut("results", "--all", "true").splitlines():
        result = RESULT.match(row)
        if result is None:
            continue
        function = FUNCTION.match(result["name"])
        module = function["module"] if function else result["name"].rpartition(".")[0]
        by_file[module][result["status"]].append(f"{result['name']}__mutmut_{result['number']}")

    for module in sorted(by_file):
        statuses = by_file[module]
        counted = {s: names for s, names in statuses.items() if s not in NOT_RUN}
        total = sum(len(names) for names in counted.values())
        if not total:
            continue
        killed = sum(len(names) for s, names in counted.items() if s in KILLED)
        others = ", ".join(f"{len(n)} {s}" for s, n in sorted(counted.items()) if s not in KILLED)
        print(f"{source_path(module)}: {killed}/{total} killed ({100 * killed / total:.1f}%) {others}")

    for module in sorted(by_file):
        path = source_path(module)
        lines = def_lines(path) if path.exists() else {}
        for status, names in sorted(by_file[module].items()):
            if status in KILLED or status in NOT_RUN:
                continue
            if status == "no tests":  # no fast test runs the function: one line per function, no diffs
                for mutated, count in sorted(Counter(by_number(n)[0] for n in names).items()):
                    print(f"no tests: {mutated} ({count} mutants)")
                unexplained.extend(n for n in names if n not in allowed)
                continue
            unexplained.extend(n for n in names if n not in allowed)
            for name in sorted(names, key=by_number):
                function = FUNCTION.match(name.rpartition("__mutmut_")[0])
                key = ""
                if function:
                    key = function["function"] or f"{function['cls']}.{function['method']}"
                print(f"{status}: {name}")
                print("\n".join(changed_lines(name, lines.get(key))))
    if allowed and unexplained:
        print(
            f"{len(unexplained)} surviving mutants are not known to be equivalent: {', '.join(unexplained)}"
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
