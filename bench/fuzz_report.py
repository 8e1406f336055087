"""Count the outcomes of a fuzz run (``tests/test_fuzz.py``).

Usage::

    HYPOTHESIS_PROFILE=long FASTBP_FUZZ_LOG=fuzz.jsonl python -m pytest tests/test_fuzz.py
    python bench/fuzz_report.py fuzz.jsonl

Prints the number of cases and calls, the outcomes per call, and the most
frequent error messages (first 90 characters).
"""

import argparse
import collections
import json


def main(path):
    rows = [json.loads(line) for line in open(path)]
    cases = {json.dumps(r["case"], sort_keys=True) for r in rows}
    print(f"{len(cases)} distinct cases, {len(rows)} calls")
    outcomes = collections.Counter((r["call"], r["outcome"]) for r in rows)
    print("\n| call | outcome | count |\n|---|---|---|")
    for (call, outcome), n in sorted(outcomes.items()):
        print(f"| {call} | {outcome} | {n} |")
    totals = collections.Counter(r["outcome"] for r in rows)
    print("\ntotals:", dict(totals))
    messages = collections.Counter(r["message"][:90] for r in rows if r["outcome"] != "ok")
    print("\nmost frequent errors:")
    for message, n in messages.most_common(40):
        print(f"{n:6d}  {message}")


if __name__ == "__main__":
    ap = argparse.ArgumentParser(prog="python bench/fuzz_report.py",
                                 description=__doc__.split("\n\n")[0])
    ap.add_argument("log", help="the JSON-lines file a fuzz run wrote (FASTBP_FUZZ_LOG)")
    main(ap.parse_args().log)
