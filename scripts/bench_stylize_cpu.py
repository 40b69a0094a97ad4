"""The procedural stylizer at full size: images per second and CPU seconds per style, in one run.

Usage: ``python scripts/bench_stylize_cpu.py [--baseline GIT_REF] [--photos 2] [--size 1024]
[--workers 2] [--rounds 2]``

Two measurements, each in a fresh process:

- throughput: ``stylize_workspace`` (what ``canvas-build stylize`` runs: a process pool, photo
  decode, JPEG encode and provenance of every item) paints ``--photos`` seed photos of
  ``--size`` px (scikit-image samples) in all 60 styles with ``--workers`` processes; images
  per second over the whole call, pool start-up included; and, from the CPU time of the whole
  run (this process and its pool, ``getrusage``), images per CPU-second times ``--workers``:
  the rate on that many cores that nothing else uses, which a shared machine cannot show;
- cost per style: each style paints one photo of ``--size`` px in one thread (OpenCV with one
  thread, as in the pool), timed with the process's CPU time (``time.process_time``).

With ``--baseline`` the same two run on the package as it is at that git commit (extracted with
``git archive``), interleaved with the current code round by round (current, baseline, current,
baseline, ...) so that a change of machine load hits both; the ratios are per round, and the
median over rounds is printed. Targets: ``--target-rate`` images/s and no style above
``--target-style`` CPU-s.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

CHILD = r"""
import json, resource, sys, time
from pathlib import Path
import cv2
from PIL import Image
from skimage import data
import canvas_data
from canvas_data.recipe import load_recipe
try:  # the package with sub-packages
    from canvas_data.stylizers.registry import get_stylizer
    from canvas_data.stylizers.runner import stylize_workspace
except ImportError:  # a --baseline commit from before them
    from canvas_data.stylizers import get_stylizer
    from canvas_data.stylize import stylize_workspace
from canvas_data.workspace import seed_photo_path

mode, work, photos, size, workers = sys.argv[1], Path(sys.argv[2]), *map(int, sys.argv[3:6])
recipe = load_recipe("unlearncanvas")
sources = [data.astronaut(), data.chelsea(), data.coffee(), data.rocket()]
def photo(i):
    return Image.fromarray(sources[i % len(sources)]).resize((size, size), Image.LANCZOS)
if mode == "throughput":
    obj = recipe.objects[0]
    for i in range(photos):
        path = seed_photo_path(work, obj, i + 1)
        path.parent.mkdir(parents=True, exist_ok=True)
        photo(i).save(path, quality=95)
    report = stylize_workspace(work, recipe=recipe, objects=[obj], workers=workers, progress=False)
    assert not report.failed, report.failed[:3]
    use = [resource.getrusage(who) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)]
    cpu = sum(u.ru_utime + u.ru_stime for u in use)
    out = {"images": report.written, "seconds": report.seconds, "cpu": cpu}
else:
    cv2.setNumThreads(1)
    stylizer, img = get_stylizer("procedural", recipe), photo(0)
    out = {}
    for name in recipe.styles:
        start = time.process_time()
        stylizer.stylize(img, recipe.style(name), seed=1)
        out[name] = time.process_time() - start
print(json.dumps({"package": canvas_data.__file__, **out}))
"""


def run_child(code_root: Path, mode: str, scratch: Path, args) -> dict:
    """One measurement in a fresh process importing ``canvas_data`` from ``code_root``."""
    work = scratch / "work"
    shutil.rmtree(work, ignore_errors=True)
    env = {**os.environ, "PYTHONPATH": str(code_root), "OMP_NUM_THREADS": "1"}
    argv = [sys.executable, "-c", CHILD, mode, str(work), str(args.photos), str(args.size),
            str(args.workers)]  # fmt: skip
    done = subprocess.run(argv, cwd=scratch, env=env, capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"{mode} on {code_root} failed:\n{done.stderr[-3000:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    package = Path(result.pop("package")).parent.parent
    if package != code_root:
        raise SystemExit(f"imported canvas_data from {package}, not {code_root}")
    return result


def extract(ref: str, dest: Path) -> Path:
    """The ``canvas_data`` package as it is at git commit ``ref``, under ``dest``."""
    dest.mkdir(parents=True)
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", ref, "canvas_data"], capture_output=True, check=True
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(dest)], input=archive, check=True)
    return dest


def summary(label: str, rates, per_cpu, costs: list[dict[str, float]]) -> dict:
    per_style = {s: statistics.median(c[s] for c in costs) for s in costs[0]}
    worst = sorted(per_style.items(), key=lambda kv: -kv[1])
    return {
        "label": label,
        "rate": statistics.median(rates),
        "per_cpu": statistics.median(per_cpu),
        "mean_cpu": statistics.mean(per_style.values()),
        "max_cpu": worst[0][1],
        "worst": worst[:5],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--baseline", help="git commit to compare with (e.g. HEAD~3)")
    parser.add_argument("--photos", type=int, default=2, help="seed photos painted in 60 styles")
    parser.add_argument("--size", type=int, default=1024, help="photo side, px")
    parser.add_argument("--workers", type=int, default=2, help="processes of the stylize pool")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--target-rate", type=float, default=6.7, help="images/s wanted")
    parser.add_argument("--target-style", type=float, default=0.6, help="most CPU-s per style")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        scratch = Path(tmp)
        sides = {"current": ROOT}
        if args.baseline:
            sides["baseline"] = extract(args.baseline, scratch / "baseline")
        rates = {k: [] for k in sides}
        per_cpu = {k: [] for k in sides}
        costs = {k: [] for k in sides}
        for r in range(args.rounds):
            for mode in ("throughput", "per_style"):
                for label, code in sides.items():
                    res = run_child(code, mode, scratch, args)
                    if mode == "throughput":
                        rates[label].append(res["images"] / res["seconds"])
                        n, secs, cpu = res["images"], res["seconds"], res["cpu"]
                        per_cpu[label].append(n / cpu * args.workers)
                        print(f"round {r + 1} {label:>8}: {rates[label][-1]:.2f} images/s, "
                              f"{per_cpu[label][-1]:.2f} per {args.workers} CPUs "
                              f"({n} in {secs:.1f} s, {cpu:.1f} CPU-s)", flush=True)  # fmt: skip
                    else:
                        costs[label].append(res)
                        total, slowest = sum(res.values()), max(res.values())
                        print(f"round {r + 1} {label:>8}: {total:.2f} CPU-s for "
                              f"{len(res)} styles, slowest {slowest:.2f}", flush=True)  # fmt: skip
    report = {k: summary(k, rates[k], per_cpu[k], costs[k]) for k in sides}
    print(f"\n{args.size} px, {args.photos} photos x 60 styles, {args.workers} workers, "
          f"{args.rounds} rounds (medians)")  # fmt: skip
    for s in report.values():
        worst = ", ".join(f"{n} {c:.2f}" for n, c in s["worst"])
        print(f"{s['label']:>8}: {s['rate']:.2f} images/s wall, {s['per_cpu']:.2f} images/s "
              f"per {args.workers} CPUs; CPU-s per style mean "
              f"{s['mean_cpu']:.3f}, max {s['max_cpu']:.2f} ({worst})")  # fmt: skip
    if "baseline" in report:
        ratio = [c / b for c, b in zip(rates["current"], rates["baseline"], strict=True)]
        ratio_cpu = [c / b for c, b in zip(per_cpu["current"], per_cpu["baseline"], strict=True)]
        cpu = [
            sum(b.values()) / sum(c.values())
            for c, b in zip(costs["current"], costs["baseline"], strict=True)
        ]
        print(f"current / baseline: {statistics.median(ratio):.2f}x images/s wall "
              f"(rounds: {', '.join(f'{x:.2f}' for x in ratio)}), "
              f"{statistics.median(ratio_cpu):.2f}x images per CPU-s "
              f"(rounds: {', '.join(f'{x:.2f}' for x in ratio_cpu)}), "
              f"{statistics.median(cpu):.2f}x less CPU for the 60 styles")  # fmt: skip
    cur = report["current"]
    print(f"targets: {cur['per_cpu']:.2f} >= {args.target_rate} images/s per {args.workers} CPUs: "
          f"{'met' if cur['per_cpu'] >= args.target_rate else 'NOT met'}; slowest style "
          f"{cur['max_cpu']:.2f} <= {args.target_style} CPU-s: "
          f"{'met' if cur['max_cpu'] <= args.target_style else 'NOT met'}")  # fmt: skip


if __name__ == "__main__":
    main()
