"""The committed run stores of the long benchmark grids (`benchmarks/records/`) stay well formed.

They are the only copy of hours of GPU and CPU runs: a malformed line, a tiny run written into
them, or a record missing its key would corrupt a README table or make a grid repeat its runs.
"""

import json

import numpy as np
import pytest

from benchmarks import motion_collapse, table_6_1
from benchmarks._common import RECORDS, load_records

STORES = {
    "motion_collapse_runs.jsonl": motion_collapse,
    "table_6_1_runs.jsonl": table_6_1,
}


@pytest.mark.parametrize("name", sorted(STORES))
def test_committed_store_records_are_whole_runs(name):
    path = RECORDS / name
    if not path.exists():
        pytest.skip(f"{name}: nothing recorded yet")
    records = [json.loads(line) for line in path.read_text().splitlines()]
    run_key = STORES[name].RUN_KEY
    for r in records:
        assert set(run_key) <= set(r), r
    keys = [tuple(r[k] for k in run_key) for r in records]
    assert len(set(keys)) == len(keys), "a run recorded twice"
    if name == "motion_collapse_runs.jsonl":
        for r in records:
            assert r["steps"] > 4, f"a --tiny run in the committed store: {r}"
            assert r["model"] in motion_collapse.MODELS
            assert r["mode"] in motion_collapse.MODES
            fractions = [r[k] for k in motion_collapse.DIRECTIONS]
            # Restored records carry the README's two-decimal rounding.
            np.testing.assert_allclose(sum(fractions), 1.0, atol=0.011)


@pytest.mark.parametrize("marker", ["motion_collapse", "motion_collapse_runs"])
def test_readme_motion_collapse_tables_are_the_committed_records(marker):
    readme = (RECORDS.parents[1] / "README.md").read_text()
    start, end = f"<!-- {marker} -->\n", f"\n<!-- /{marker} -->"
    shown = readme[readme.index(start) + len(start) : readme.index(end)]
    records = load_records(RECORDS / "motion_collapse_runs.jsonl", motion_collapse.RUN_KEY)
    tables = {"motion_collapse": motion_collapse.readme_table,
              "motion_collapse_runs": motion_collapse.readme_runs}
    assert shown == tables[marker](records.values()), (
        f"README's {marker} table is not the committed records': run `python -m "
        "benchmarks.motion_collapse --readme` and paste its tables between the markers"
    )
