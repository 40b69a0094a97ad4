"""Torch's CPU thread count: chosen from the usable cores and the workers beside torch."""

import os

import pytest
import torch

from canvas_data.threads import choose_threads, cpu_quota, usable_cores, use_torch_threads


@pytest.mark.parametrize(
    ("cores", "workers", "expected"),
    [(2, 0, 2), (2, 2, 1), (2, 1, 1), (16, 8, 8), (16, 4, 12), (1, 0, 1), (4, 9, 1)],
)
def test_threads_are_the_cores_left_by_the_workers(cores, workers, expected, monkeypatch):
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    choice = choose_threads(None, workers=workers, cores=cores)
    assert choice.threads == expected
    assert not choice.requested
    assert f"{cores} usable cores" in choice.describe()


def test_threads_option_overrides_the_rule():
    choice = choose_threads(3, workers=8, cores=2)
    assert choice.threads == 3 and choice.requested
    assert "--threads" in choice.describe()


@pytest.mark.parametrize("bad", [0, -1])
def test_threads_below_one_are_refused(bad):
    with pytest.raises(ValueError, match="at least 1"):
        choose_threads(bad, cores=2)


def test_usable_cores_follow_the_affinity_mask(monkeypatch):
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    assert 1 <= usable_cores() <= len(os.sched_getaffinity(0))
    assert choose_threads(None, workers=0).threads == usable_cores()


@pytest.mark.parametrize(
    ("text", "cores"),
    [("150000 100000\n", 2), ("100000 100000", 1), ("50000 100000", 1), ("max 100000", None),
     ("garbage", None)],
)  # fmt: skip
def test_cgroup_quota_in_whole_cores(tmp_path, text, cores):
    path = tmp_path / "cpu.max"
    path.write_text(text)
    assert cpu_quota(path) == cores


def test_cgroup_quota_missing_file(tmp_path):
    assert cpu_quota(tmp_path / "absent") is None


def test_use_torch_threads_sets_torch(monkeypatch):
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    before = torch.get_num_threads()
    try:
        choice = use_torch_threads(None, workers=usable_cores() + 3)
        assert choice.threads == 1 == torch.get_num_threads()
        use_torch_threads(2)
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)


def test_omp_num_threads_is_followed_unless_threads_given(monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    assert choose_threads(None, workers=8, cores=2).threads == 3
    assert "OMP_NUM_THREADS" in choose_threads(None, cores=2).describe()
    assert choose_threads(1, cores=2).threads == 1
    for junk in ("", "0", "two", "-1"):
        monkeypatch.setenv("OMP_NUM_THREADS", junk)
        assert choose_threads(None, workers=1, cores=4).threads == 3


@pytest.mark.parametrize(
    ("module", "command"),
    [("eval", "generate"), ("eval", "accuracy"), ("eval", "fid"), ("train", "style"),
     ("train", "object"), ("train", "evaluate"), ("train", "predict")],
)  # fmt: skip
def test_threads_option_on_every_cpu_command(module, command):
    from click.testing import CliRunner

    main = __import__(f"canvas_data.cli.{module}", fromlist=["main"]).main
    shown = CliRunner().invoke(main, [command, "--help"], terminal_width=200)
    assert shown.exit_code == 0, shown.output
    assert "--threads INTEGER RANGE" in shown.output
    assert "usable cores less --workers" in shown.output
    refused = CliRunner().invoke(main, [command, "--threads", "0"])
    assert refused.exit_code == 2 and "--threads" in refused.output


def test_a_busy_machine_is_warned_about_unless_threads_were_given(monkeypatch):
    from canvas_data.threads import busy_warning

    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    two = choose_threads(None, workers=0, cores=2)
    said = busy_warning(two, load=16.8, machine_cores=2)
    assert said is not None and "load 16.8 on 2 cores" in said and "--threads 1" in said
    assert busy_warning(two, load=1.5, machine_cores=2) is None
    assert busy_warning(choose_threads(2, cores=2), load=16.8, machine_cores=2) is None
    one = choose_threads(None, workers=2, cores=2)
    assert busy_warning(one, load=16.8, machine_cores=2) is None
    monkeypatch.setenv("OMP_NUM_THREADS", "2")
    assert busy_warning(choose_threads(None, cores=2), load=16.8, machine_cores=2) is None
