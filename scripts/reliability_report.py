"""Run the reliability cases and count them: ``N tried, M clean``.

    .venv/bin/python scripts/reliability_report.py                 # every case, then the count
    .venv/bin/python scripts/reliability_report.py --write-doc     # also put the count in docs/reliability.md
    .venv/bin/python scripts/reliability_report.py -- -k compare   # extra arguments go to pytest

A case is one test, or one parameter set of a parametrised test, in the files that hold the promises of
docs/reliability.md (tests/test_reliability*.py, tests/test_same_answer.py, tests/test_errors.py, and the wire
furniture tests of tests/test_segment.py). It is clean
when its setup, its body and its teardown all pass; a skipped case is tried but not clean, and is counted apart.
The exit status is 0 when every case tried is clean, else 1.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("KPSTANCE_ROOT", str(ROOT))
DOC = ROOT / "docs" / "reliability.md"
FILES = ("test_reliability*.py", "test_same_answer.py", "test_errors.py")
# files that hold a few reliability cases among other tests: only the tests whose name holds the word
PICK = {"test_segment.py": "furniture"}
# the line of docs/reliability.md that holds the count, between these two markers
MARK = re.compile(r"(<!-- count -->).*?(<!-- /count -->)", re.S)


class Count:
    """A pytest plugin: the outcome of every case, from its setup, call and teardown reports."""

    def __init__(self) -> None:
        self.outcome: dict[str, str] = {}

    def pytest_runtest_logreport(self, report) -> None:  # noqa: ANN001 (pytest's TestReport)
        before = self.outcome.get(report.nodeid, "passed")
        if report.failed:
            self.outcome[report.nodeid] = "failed"
        elif report.skipped and before != "failed":
            self.outcome[report.nodeid] = "skipped"
        else:
            self.outcome.setdefault(report.nodeid, "passed")

    def pytest_collection_modifyitems(self, config, items) -> None:  # noqa: ANN001
        keep = [i for i in items if i.path.name not in PICK or PICK[i.path.name] in i.name]
        if len(keep) < len(items):
            config.hook.pytest_deselected(items=[i for i in items if i not in keep])
            items[:] = keep

    def pytest_collectreport(self, report) -> None:  # noqa: ANN001
        if report.failed:  # a file that does not even import: each of its cases is lost, count the file as one
            self.outcome[report.nodeid or "collection"] = "failed"

    def summary(self) -> tuple[int, int, int, list[str]]:
        values = list(self.outcome.values())
        failed = sorted(n for n, o in self.outcome.items() if o == "failed")
        return len(values), values.count("passed"), values.count("skipped"), failed


def line(tried: int, clean: int, skipped: int) -> str:
    return f"{tried} tried, {clean} clean" + (f" ({skipped} skipped)" if skipped else "")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write-doc", action="store_true", help=f"write the count into {DOC.relative_to(ROOT)}")
    parser.add_argument("pytest_args", nargs="*", help="more pytest arguments (after --)")
    args = parser.parse_args(argv)
    import pytest

    files = sorted(str(p) for pattern in (*FILES, *PICK) for p in (ROOT / "tests").glob(pattern))
    count = Count()
    pytest.main(["-q", "-p", "no:cacheprovider", f"--rootdir={ROOT}", *files, *args.pytest_args], plugins=[count])
    tried, clean, skipped, failed = count.summary()
    for nodeid in failed:
        print(f"not clean: {nodeid}")
    result = line(tried, clean, skipped)
    print(result)
    if args.write_doc:
        text = DOC.read_text(encoding="utf-8")
        if not MARK.search(text):
            print(f"{DOC}: no <!-- count --> … <!-- /count --> markers to write the count between", file=sys.stderr)
            return 2
        DOC.write_text(MARK.sub(lambda m: f"{m.group(1)}{result}{m.group(2)}", text, count=1), encoding="utf-8")
    return 0 if tried and clean == tried else 1


if __name__ == "__main__":
    sys.exit(main())
