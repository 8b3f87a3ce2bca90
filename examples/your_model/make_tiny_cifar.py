"""Write a tiny CIFAR-10-format data set (the python-version batch files) to DIR, for docs/your_model.md's
worked example: nothing is downloaded.

    python examples/your_model/make_tiny_cifar.py DIR [--per-batch 100] [--test 500]

Ten classes of 32x32 RGB images: class c is a sine grating at orientation c x 18 degrees, with a random phase
and a random tint, under pixel noise: only the orientation tells the classes apart, so a small CNN learns it
in a few hundred steps, but not perfectly. The files are what CIFAR-10's tarball holds: data_batch_1..5 and
test_batch, pickled dicts with `data` (uint8, N x 3072, channel-major) and `labels`.
"""

import argparse
import pickle
from pathlib import Path

import numpy as np

SIZE, CLASSES = 32, 10


def images(labels: np.ndarray, rng: np.random.Generator, noise: float = 0.5) -> np.ndarray:
    """uint8 images (N, 3, 32, 32) of the given classes."""
    tints = rng.uniform(0.3, 1.0, (len(labels), 3))
    yy, xx = np.mgrid[0:SIZE, 0:SIZE] / SIZE
    angle = labels * np.pi / CLASSES
    phase = rng.uniform(0, 2 * np.pi, len(labels))
    along = np.cos(angle)[:, None, None] * xx + np.sin(angle)[:, None, None] * yy
    grating = 0.5 + 0.5 * np.sin(2 * np.pi * 4 * along + phase[:, None, None])  # 4 periods across the image
    pixels = tints[:, :, None, None] * grating[:, None] + rng.normal(0, noise, (len(labels), 3, SIZE, SIZE))
    return (np.clip(pixels, 0, 1) * 255).astype(np.uint8)


def write_batch(path: Path, n: int, rng: np.random.Generator) -> None:
    labels = rng.integers(0, CLASSES, n)
    batch = {"batch_label": path.name, "labels": [int(v) for v in labels],
             "data": images(labels, rng).reshape(n, 3 * SIZE * SIZE), "filenames": [f"{i}.png" for i in range(n)]}
    with open(path, "wb") as handle:
        pickle.dump(batch, handle, protocol=2)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("dir", type=Path)
    parser.add_argument("--per-batch", type=int, default=100, help="images in each of the 5 training batches")
    parser.add_argument("--test", type=int, default=500, help="images in test_batch")
    args = parser.parse_args(argv)
    args.dir.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(2026)
    for i in range(1, 6):
        write_batch(args.dir / f"data_batch_{i}", args.per_batch, rng)
    write_batch(args.dir / "test_batch", args.test, rng)
    print(f"wrote {5 * args.per_batch} training and {args.test} test images to {args.dir}")


if __name__ == "__main__":
    main()
