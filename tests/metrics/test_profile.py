"""`canvas-eval profile` measures a real command: a Python child that holds 200 MiB for 0.5 s."""

from __future__ import annotations

import json
import signal
import sys

from click.testing import CliRunner

from canvas_data.cli.eval import main
from canvas_data.metrics.profile import profile_command

MIB = 2**20
# Touches every page of 200 MiB (bytes * n writes them), then holds them for half a second.
HOLD = "import time; b = b'x' * (200 * 2**20); time.sleep(0.5)"


def test_wall_time_and_peak_memory_of_a_command_are_bounded_below():
    record = profile_command([sys.executable, "-c", HOLD], interval=0.02)
    assert record["exit_code"] == 0
    assert record["wall_s"] >= 0.5
    assert record["peak_rss_bytes"] >= 200 * MIB
    assert record["command"][-1] == HOLD
    if record["device"].startswith("cpu ("):  # no NVML or no GPU here: said so, no GPU figure
        assert record["peak_gpu_bytes"] is None and record["gpu_memory_source"] is None
    else:
        assert record["peak_gpu_bytes"] >= 0


def test_memory_of_the_whole_process_tree_counts():
    parent = f"import subprocess, sys; subprocess.run([sys.executable, '-c', {HOLD!r}], check=True)"
    record = profile_command([sys.executable, "-c", parent], interval=0.02)
    assert record["exit_code"] == 0 and record["wall_s"] >= 0.5
    assert record["peak_rss_bytes"] >= 200 * MIB


def test_without_nvml_the_gpu_figure_is_null_and_the_reason_is_given(monkeypatch):
    monkeypatch.setitem(sys.modules, "pynvml", None)  # as if nvidia-ml-py were not installed
    record = profile_command([sys.executable, "-c", "pass"])
    assert record["peak_gpu_bytes"] is None
    assert record["device"] == "cpu (nvidia-ml-py not installed)"
    assert record["peak_rss_bytes"] > 0


def test_cli_writes_the_record_and_passes_the_exit_code_through(tmp_path):
    out = tmp_path / "results" / "ESD" / "profile.json"
    args = ["profile", "--method", "ESD", "--out", str(out), "--", sys.executable, "-c",
            "import sys; sys.exit(3)"]  # fmt: skip
    run = CliRunner().invoke(main, args)
    assert run.exit_code == 3, run.output
    record = json.loads(out.read_text())
    assert record["kind"] == "canvas-eval profile" and record["exit_code"] == 3
    assert record["method"] == "ESD" and record["command"][0] == sys.executable
    assert set(record) >= {"wall_s", "peak_gpu_bytes", "peak_rss_bytes", "device"}
    assert "exit code 3" in run.output and f"wrote {out}" in run.output

    # Options of the command itself are not taken for ours.
    check = "import sys; sys.exit(0 if sys.argv[1:] == ['--out', 'x'] else 5)"
    args = ["profile", "--out", str(out), "--", sys.executable, "-c", check, "--out", "x"]
    assert CliRunner().invoke(main, args).exit_code == 0

    kill = "import os, signal; os.kill(os.getpid(), signal.SIGTERM)"
    run = CliRunner().invoke(main, ["profile", "--out", str(out), "--", sys.executable, "-c", kill])
    assert run.exit_code == 128 + signal.SIGTERM
    assert json.loads(out.read_text())["exit_code"] == -signal.SIGTERM


def test_a_command_that_does_not_exist_is_a_one_line_error(tmp_path):
    out = tmp_path / "p.json"
    run = CliRunner().invoke(main, ["profile", "--out", str(out), "--", "no-such-program-xyz"])
    assert run.exit_code == 1 and run.output.count("\n") == 1
    assert "cannot run no-such-program-xyz" in run.output
    assert not out.exists()
    run = CliRunner().invoke(main, ["profile", "--out", str(out)])
    assert run.exit_code == 2 and "Missing argument" in run.output


def test_profile_and_storage_results_join_the_table(tmp_path):
    from canvas_data.atomic import write_json

    esd = tmp_path / "results" / "ESD"
    for i, wall in enumerate((10.0, 20.0)):
        write_json(esd / f"profile-{i}.json", {
            "kind": "canvas-eval profile", "method": None, "wall_s": wall, "exit_code": 0,
            "peak_gpu_bytes": (i + 1) * 2**30, "peak_rss_bytes": 3 * 2**30,
        })  # fmt: skip
    storage = tmp_path / "storage-fmn.json"
    write_json(storage, {"kind": "canvas-eval storage", "method": None,
                         "unlearned_bytes": 3 * MIB, "diff_bytes": MIB // 2})  # fmt: skip
    out = tmp_path / "table"
    args = ["summarize", *(str(p) for p in sorted(esd.glob("*.json"))), "--efficiency",
            f"FMN={storage}", "--out", str(out)]  # fmt: skip
    run = CliRunner().invoke(main, args)
    assert run.exit_code == 0, run.output
    lines = (out / "table.md").read_text().splitlines()
    assert lines[0].endswith(
        "| FID | targets (style / object) | time (s) | GPU mem (GiB) | RSS (GiB) | storage (MiB) "
        "| diff (MiB) |"
    )
    # ESD: mean time 15 s, highest GPU peak 2 GiB; FMN (assigned by --efficiency): 3 and 0.5 MiB.
    assert lines[2].endswith("| — | 0 / 0 | 15.0 | 2.00 | 3.00 | — | — |")
    assert lines[3].startswith("| FMN |") and lines[3].endswith("| — | — | — | 3.0 | 0.5 |")
    csv_lines = (out / "table.csv").read_text().splitlines()
    assert csv_lines[0].endswith(",time_s,peak_gpu_GiB,peak_rss_GiB,storage_MiB,diff_MiB")
    assert csv_lines[1].endswith(",15.0,2.0,3.0,,")
    rows = json.loads((out / "table.json").read_text())["methods"]
    assert rows[0]["time_s"] == 15.0 and rows[1]["diff_bytes"] == MIB // 2

    bad = tmp_path / "bad.json"
    write_json(bad, {"kind": "canvas-eval profile", "method": "X"})
    run = CliRunner().invoke(main, ["summarize", str(bad), "--out", str(out)])
    assert (
        run.exit_code == 1
        and "bad.json: canvas-eval profile result without a number wall_s" in run.output
    )
    run = CliRunner().invoke(main, ["summarize", "--efficiency", str(bad), "--out", str(out)])
    assert run.exit_code == 1 and "give METHOD=FILE" in run.output
    run = CliRunner().invoke(main, ["summarize", "--efficiency", f"X={esd}", "--out", str(out)])
    assert run.exit_code == 1 and f"{esd}: cannot read the result" in run.output
    write_json(bad, {"kind": "canvas-eval profile", "wall_s": 1.0, "peak_gpu_bytes": "lots"})
    run = CliRunner().invoke(main, ["summarize", "--efficiency", f"X={bad}", "--out", str(out)])
    assert (
        run.exit_code == 1 and "bad.json: peak_gpu_bytes is neither a number nor null" in run.output
    )


def test_no_place_for_the_record_stops_before_the_command_runs(tmp_path):
    (tmp_path / "file").write_text("")
    marker = tmp_path / "ran"
    args = ["profile", "--out", str(tmp_path / "file" / "p.json"), "--", sys.executable, "-c",
            f"open({str(marker)!r}, 'w')"]  # fmt: skip
    run = CliRunner().invoke(main, args)
    assert run.exit_code == 1, run.output
    assert f"{tmp_path / 'file'}: is a file, not a folder" in run.output
    assert run.output.count("\n") == 1 and not marker.exists()


def test_a_small_measure_above_zero_never_shows_as_zero(tmp_path):
    from canvas_data.atomic import write_json
    from canvas_data.metrics.efficiency import cell, human_bytes

    row = {"time_s": 0.04, "peak_rss_bytes": 2**20, "storage_bytes": 2**20, "diff_bytes": 16}
    assert [cell(row, k) for k in row] == ["<0.1", "<0.01", "1.0", "<0.1"]
    assert cell({"diff_bytes": 0}, "diff_bytes") == "0.0"
    assert cell({}, "diff_bytes") == "—"
    assert [human_bytes(n) for n in (0, 16, 1536, 2**20, 3 * 2**30)] == [
        "0 B", "16 B", "1.5 KiB", "1.0 MiB", "3.00 GiB"
    ]  # fmt: skip
    record = tmp_path / "storage.json"
    write_json(record, {"kind": "canvas-eval storage", "method": "X", "unlearned_bytes": 2**20,
                        "diff_bytes": 16})  # fmt: skip
    run = CliRunner().invoke(main, ["summarize", str(record), "--out", str(tmp_path / "t")])
    assert run.exit_code == 0, run.output
    assert "| 1.0 | <0.1 |" in run.output
