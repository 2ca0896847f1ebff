"""Run Nengo 4.1's test suite against snngraph's Nengo backend and count the outcomes
per Nengo test file: passed, unsupported (in pytest.ini's list, each with its reason),
failed (and errors), skipped for other reasons (Nengo's own skips: slow tests, missing
optional packages).

    python tests/nengo/compliance.py              # the whole suite (~minutes)
    python tests/nengo/compliance.py -k test_node # any pytest arguments pass through
    python tests/nengo/compliance.py --why        # also each failure's first line
"""

from __future__ import annotations

import collections
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from pathlib import Path

HERE = Path(__file__).resolve().parent


def run(args: list[str]) -> tuple[ET.ElementTree, float]:
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "report.xml"
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "pytest", "--pyargs", "nengo",
                        f"--junitxml={report}", "-q", "-p", "no:randomly", *args],
                       cwd=HERE, check=False)
        elapsed = time.perf_counter() - start
        return ET.parse(report), elapsed


def counts(tree: ET.ElementTree) -> dict[str, collections.Counter]:
    per_file: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    for case in tree.iter("testcase"):
        name = case.get("classname", "").replace("nengo.", "", 1).replace(".", "/") + ".py"
        per_file[name][outcome(case)] += 1
    return per_file


def outcome(case: ET.Element) -> str:
    if case.find("failure") is not None or case.find("error") is not None:
        return "failed"
    skipped = case.find("skipped")
    if skipped is None:
        return "passed"
    text = (skipped.get("message") or "") + (skipped.text or "")
    return "unsupported" if "unsupported" in text.lower() else "skipped"


def failures(tree: ET.ElementTree) -> list[str]:
    """Each failed test with the first line of its error."""
    out = []
    for case in tree.iter("testcase"):
        bad = case.find("failure") if case.find("failure") is not None else case.find("error")
        if bad is not None:
            first = (bad.get("message") or "").strip().splitlines()[:1]
            out.append(f"{case.get('classname')}::{case.get('name')}: "
                       f"{first[0][:160] if first else ''}")
    return out


def main() -> None:
    args = [a for a in sys.argv[1:] if a != "--why"]
    tree, elapsed = run(args)
    if "--why" in sys.argv:
        print("\n".join(failures(tree)))
    per_file = counts(tree)
    kinds = ("passed", "unsupported", "failed", "skipped")
    total: collections.Counter = collections.Counter()
    print(f"\n{'file':45s}" + "".join(f"{k:>12s}" for k in kinds))
    for name in sorted(per_file):
        c = per_file[name]
        total.update(c)
        print(f"{name:45s}" + "".join(f"{c[k]:12d}" for k in kinds))
    print(f"{'total':45s}" + "".join(f"{total[k]:12d}" for k in kinds))
    print(f"{sum(total.values())} tests in {elapsed:.0f} s")


if __name__ == "__main__":
    main()
