"""Pack throughput as a ratio to a plain ``tar`` of the same files, and peak memory, at N and 10N.

Usage: ``python scripts/bench_pack.py [--n 60] [--size 1024] [--repeat 3] [--dir /tmp/bench]``

The script makes a folder in the release's layout (``{Style}/{Object}/{idx}.jpg`` plus
``Seed_Images``, 20 objects) of N synthetic JPEGs of realistic size (grainy colour fields at
``--size`` px, quality 97, no chroma subsampling: about 2.7 MB each at 1024 px; the release's
images average 3.1 MB), then one of 10N. For each it times, with the page cache warm and the
best of ``--repeat`` runs:

- ``tar -cf`` of the folder: the plain copy of the bytes into one archive;
- Python's ``tarfile`` writing the same files (a second reference);
- ``pack_dataset`` (what ``canvas-build shards`` runs: header check of every image, WebDataset tars,
  sha256 of each shard, manifest, card with its sample index and preview), in a fresh process,
  timed around the call, into an empty output folder so that nothing is reused.

Peak memory is measured in separate runs, each in its own process: ``ru_maxrss`` (the whole
process, imports included) and the ``tracemalloc`` peak (Python allocations during the call).

``--peer`` measures instead, side by side as whole processes (start-up and imports included,
the page cache warm), ``canvas-build shards`` and a plain ``webdataset.ShardWriter`` script
(``PEER`` below: the same files, sorted, with caption, labels and sidecar) over a folder of every
style of the release: 61 x 20 x ``--photos`` JPEGs (1,220 at 1 photo) of about 385 KB
(``--size`` 1024, grain 6, quality 95). The two run in turn, ``--repeat`` times each; the
throughput ratio (peer seconds / ours) is taken per pair, and its median is printed with both
processes' peak RSS:

    python scripts/bench_pack.py --peer --photos 1 --repeat 3
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import statistics
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import numpy as np
import yaml
from PIL import Image

OBJECTS = 20
STYLES = ["Monet", "Van_Gogh"]

CHILD = r"""
import json, resource, sys, time, tracemalloc
from pathlib import Path
from canvas_data.pipeline import pack_dataset
import canvas_data.card.dataset_card  # imports outside the timing
import canvas_data.card.preview
import canvas_data.card.croissant
work, out, trace = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3] == "1"
if trace:
    tracemalloc.start()
start = time.perf_counter()
report = pack_dataset(work, out, progress=False)
seconds = time.perf_counter() - start
peak = tracemalloc.get_traced_memory()[1] if trace else None
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
print(json.dumps({"seconds": seconds, "tracemalloc_peak": peak, "maxrss": rss,
                  "samples": sum(report.samples.values()), "unreadable": len(report.unreadable)}))
"""


def make_images(
    count: int, size: int, seed: int = 0, grain: float = 60, quality: int = 97
) -> list[bytes]:
    """Distinct noise-textured JPEGs: smooth colour fields plus grain, which compress like paint."""
    rng = np.random.default_rng(seed)
    images = []
    for _ in range(count):
        base = rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)
        smooth = np.asarray(Image.fromarray(base).resize((size, size), Image.BICUBIC), np.int16)
        noise = rng.normal(0, grain, (size, size, 3))
        pixels = np.clip(smooth + noise, 0, 255).astype(np.uint8)
        buf = io.BytesIO()
        subsampling = 0 if quality > 95 else -1
        Image.fromarray(pixels).save(buf, "JPEG", quality=quality, subsampling=subsampling)
        images.append(buf.getvalue())
    return images


def make_release(root: Path, photos: int, images: list[bytes], styles=STYLES) -> int:
    """A release-layout folder with a recipe for it; returns its image bytes."""
    from canvas_data.taxonomy import OBJECTS_20

    shutil.rmtree(root, ignore_errors=True)
    total, n = 0, 0
    for style in ("Seed_Images", *styles):
        for obj in OBJECTS_20[:OBJECTS]:
            for idx in range(1, photos + 1):
                path = root / style / obj / f"{idx}.jpg"
                path.parent.mkdir(parents=True, exist_ok=True)
                data = images[n % len(images)]
                path.write_bytes(data)
                total += len(data)
                n += 1
    recipe = {
        "extends": "unlearncanvas",
        "name": "bench",
        "build": {
            "styles": list(styles),
            "objects": list(OBJECTS_20[:OBJECTS]),
            "photos_per_object": photos,
        },
    }
    (root / "recipe.yaml").write_text(yaml.safe_dump(recipe))
    return total


def best(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def tar_command(work: Path, dest: Path) -> None:
    dest.unlink(missing_ok=True)
    subprocess.run(["tar", "-cf", str(dest), "-C", str(work), "."], check=True)


def tar_python(work: Path, dest: Path) -> None:
    with tarfile.open(dest, "w") as tar:
        for path in sorted(work.rglob("*.jpg")):
            tar.add(path, arcname=path.relative_to(work).as_posix())


def pack(work: Path, out: Path, trace: bool) -> dict:
    shutil.rmtree(out, ignore_errors=True)
    args = [sys.executable, "-c", CHILD, str(work), str(out), "1" if trace else "0"]
    done = subprocess.run(args, capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"pack_dataset failed on {work}:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def measure(root: Path, photos: int, images: list[bytes], repeat: int) -> dict:
    work = root / f"release-{photos}"
    total = make_release(work, photos, images)
    tar_command(work, root / "warm.tar")  # warm the page cache
    t_tar = best(lambda: tar_command(work, root / "plain.tar"), repeat)
    t_tarfile = best(lambda: tar_python(work, root / "plain-py.tar"), repeat)
    runs = [pack(work, root / "packed", trace=False) for _ in range(repeat)]
    traced = pack(work, root / "packed", trace=True)
    t_pack = min(r["seconds"] for r in runs)
    for name in ("plain.tar", "plain-py.tar", "warm.tar"):
        (root / name).unlink(missing_ok=True)
    shutil.rmtree(root / "packed", ignore_errors=True)
    shutil.rmtree(work)
    return {
        "images": runs[0]["samples"],
        "mb": total / 1e6,
        "tar_mb_s": total / 1e6 / t_tar,
        "tarfile_mb_s": total / 1e6 / t_tarfile,
        "pack_mb_s": total / 1e6 / t_pack,
        "pack_vs_tar": t_pack / t_tar,
        "pack_vs_tarfile": t_pack / t_tarfile,
        "maxrss_mb": max(r["maxrss"] for r in runs) / 1e6,
        "tracemalloc_peak_mb": traced["tracemalloc_peak"] / 1e6,
    }


PEER = r"""
import sys
from pathlib import Path
import webdataset as wds
work, out = Path(sys.argv[1]), Path(sys.argv[2])
styles = sorted(p.name for p in work.iterdir() if p.is_dir())
objects = sorted(p.name for p in (work / styles[0]).iterdir())
out.mkdir(parents=True, exist_ok=True)
with wds.ShardWriter(str(out / "%06d.tar"), maxcount=1000, verbose=0) as sink:
    for path in sorted(work.glob("*/*/*.jpg")):
        style, obj = path.parts[-3:-1]
        side = path.with_suffix(".json")
        sink.write({"__key__": f"{style}/{obj}/{path.stem}", "jpg": path.read_bytes(),
                    "style.cls": str(styles.index(style)).encode(),
                    "object.cls": str(objects.index(obj)).encode(), "txt": style.encode(),
                    "json": side.read_bytes() if side.is_file() else b"{}"})
"""


def timed(argv: list[str]) -> tuple[float, float]:
    """Wall seconds and peak RSS (MB) of one whole process (``wait4``'s own accounting)."""
    start = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - start
    err = proc.stderr.read().decode(errors="replace")
    proc.stderr.close()
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode:
        raise SystemExit(f"{argv[:3]} failed:\n{err[-3000:]}")
    return seconds, usage.ru_maxrss / 1e3


def peer(args: argparse.Namespace) -> None:
    """``canvas-build shards`` against a plain ShardWriter script, whole processes, in turn."""
    from canvas_data.taxonomy import STYLES_60

    images = make_images(16, args.size, grain=6, quality=95)
    mean_kb = np.mean([len(i) for i in images]) / 1e3
    work, root = args.dir / "release", args.dir
    total = make_release(work, args.photos, images, styles=STYLES_60)
    n = len(list(work.glob("*/*/*.jpg")))
    tar_command(work, root / "warm.tar")  # warm the page cache
    (root / "warm.tar").unlink()
    cli = str(Path(sys.executable).with_name("canvas-build"))
    ours_argv = [cli, "shards", "--work", str(work), "--out", str(root / "ours")]
    peer_argv = [sys.executable, "-c", PEER, str(work), str(root / "peer")]
    ours, theirs = [], []
    for _ in range(args.repeat):
        for argv, runs, out in ((ours_argv, ours, "ours"), (peer_argv, theirs, "peer")):
            shutil.rmtree(root / out, ignore_errors=True)
            runs.append(timed(argv))
    ratio = [p[0] / o[0] for o, p in zip(ours, theirs, strict=True)]
    floor = timed([sys.executable, "-c", "pass"])[1]
    print(f"{n} JPEGs, {mean_kb:.0f} KB mean, {total / 1e6:.0f} MB; {args.repeat} pairs")
    print(f"(peak RSS of a child starts at this script's RSS when it forks: a bare "
          f"`python -c pass` reads {floor:.0f} MB)")  # fmt: skip
    for name, runs in (("canvas-build shards", ours), ("webdataset.ShardWriter", theirs)):
        secs = [r[0] for r in runs]
        print(f"{name:>24}: {statistics.median(secs):.2f} s median "
              f"({min(secs):.2f}-{max(secs):.2f}), {n / statistics.median(secs):.0f} images/s, "
              f"peak RSS {max(r[1] for r in runs):.0f} MB")  # fmt: skip
    print(f"throughput, ours / ShardWriter: {statistics.median(ratio):.2f}x "
          f"(pairs: {', '.join(f'{r:.2f}' for r in ratio)})")  # fmt: skip
    shutil.rmtree(args.dir, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--n", type=int, default=60, help="images of the small input (60 = 1 photo)"
    )
    parser.add_argument("--size", type=int, default=1024, help="image side in px")
    parser.add_argument("--repeat", type=int, default=3, help="runs per measurement; best is kept")
    parser.add_argument("--dir", type=Path, default=Path("/tmp/canvas-bench-pack"))
    parser.add_argument("--peer", action="store_true", help="against a ShardWriter script")
    parser.add_argument("--photos", type=int, default=1, help="with --peer: photos per object")
    args = parser.parse_args()
    if args.peer:
        args.dir.mkdir(parents=True, exist_ok=True)
        peer(args)
        return
    per_photo = (1 + len(STYLES)) * OBJECTS
    photos = max(1, args.n // per_photo)
    images = make_images(16, args.size)
    print(f"synthetic JPEGs: {args.size} px, {np.mean([len(i) for i in images]) / 1e6:.2f} MB mean")
    args.dir.mkdir(parents=True, exist_ok=True)
    rows = [measure(args.dir, p, images, args.repeat) for p in (photos, 10 * photos)]
    print(
        f"{'images':>7} {'MB':>8} {'tar MB/s':>9} {'tarfile':>8} {'pack MB/s':>10} "
        f"{'pack/tar':>9} {'pack/tarfile':>13} {'maxrss MB':>10} {'tracemalloc MB':>15}"
    )
    for r in rows:
        print(
            f"{r['images']:>7} {r['mb']:>8.0f} {r['tar_mb_s']:>9.0f} {r['tarfile_mb_s']:>8.0f} "
            f"{r['pack_mb_s']:>10.0f} {r['pack_vs_tar']:>8.2f}x {r['pack_vs_tarfile']:>12.2f}x "
            f"{r['maxrss_mb']:>10.0f} {r['tracemalloc_peak_mb']:>15.1f}"
        )
    shutil.rmtree(args.dir, ignore_errors=True)


if __name__ == "__main__":
    main()
