"""Order and summary shared by the A/B scripts (``compile_bench.py``,
``epoch_bench.py``): the two sides alternate which runs first, and the end
of a run prints each side's medians and the paired after/before ratios.
"""

import statistics


def order(rep):
    """The sides in repeat ``rep``'s order: before first in even repeats,
    after first in odd ones, so a drift of a shared machine favours
    neither side (helper-153: before always ran first)."""
    return ("before", "after") if rep % 2 == 0 else ("after", "before")


def summary(records, group, value):
    """Each group's median per side and median paired after/before ratio.

    Parameters
    ----------
    records : list of dict
        Runs with ``"rep"`` and ``"commit"`` (``"before"`` or ``"after"``).
    group : callable
        A record's group (a dtype, a case), the rows of the summary.
    value : callable
        The figure to summarise, in seconds.

    Returns
    -------
    list of str
        One line per group: the medians and the median of the ratios of
        the two sides' runs of the same repeat, with their range.
    """
    by = {}
    for r in records:
        by.setdefault(group(r), {}).setdefault(r["rep"], {})[r["commit"]] = value(r)
    lines = []
    for g, reps in by.items():
        sides = {c: [v[c] for v in reps.values() if c in v] for c in ("before", "after")}
        ratios = [v["after"] / v["before"] for v in reps.values() if len(v) == 2]
        if not ratios:
            continue
        lines.append(f"{g}: before {statistics.median(sides['before']):.4f} s, after "
                     f"{statistics.median(sides['after']):.4f} s (medians); after/before "
                     f"{statistics.median(ratios):.3f} (median of {len(ratios)} paired, "
                     f"{min(ratios):.3f}-{max(ratios):.3f})")
    return lines
