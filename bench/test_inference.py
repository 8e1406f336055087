"""``python -m bench.inference`` runs end to end (structure only, never a time)."""

import json
import re

from bench import inference


def test_inference_bench_reports_every_row_count(capsys, tmp_path):
    out_json = tmp_path / "inference.json"
    assert inference.main(["--rows", "1,7", "--budget", "0.002", "--repeats", "1",
                           "--epochs", "1", "--threads", "1", "--json", str(out_json)]) == 0
    text = capsys.readouterr().out
    for rows in ("1", "7"):
        assert re.search(rf"\| {rows} \| [\d.]+ (us|ms) \| [\d.]+ (us|ms) \| [\d.]+x \|", text)
    report = json.loads(out_json.read_text())
    assert set(report["results"]) == {"fastbp", "sklearn"}
    assert set(report["ratios"]) == {"1", "7"}
    assert all(r > 0 for r in report["ratios"].values())
