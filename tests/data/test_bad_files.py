"""Every bad input is refused in one line that names the files expected, before anything is written; a
pickle that would run code is never run."""

import gzip

import numpy as np
import pytest

from normbench.engine.run import run_experiment
from normbench.errors import ConfigError
from tests.core.conftest import TINY

from . import make_files


def _bad_npz(tmp_path):
    np.savez(tmp_path / "short.npz", x_train=np.zeros((5, 3)), y_train=np.zeros(4, int), x_test=np.zeros((2, 3)),
             y_test=np.zeros(2, int))
    np.savez(tmp_path / "keys.npz", inputs=np.zeros((5, 3)))
    np.savez(tmp_path / "range.npz", x=np.zeros((20, 3)), y=np.arange(20) % 5)
    np.savez(tmp_path / "negative.npz", x=np.zeros((20, 3)), y=np.arange(20) % 5 - 1)
    np.savez(tmp_path / "fractional.npz", x=np.zeros((20, 3)), y=np.linspace(0, 1, 20))
    np.savez(tmp_path / "objects.npz", x=np.array([{"a": 1}] * 4, dtype=object), y=np.zeros(4, int))
    (tmp_path / "text.npz").write_text("not a zip")
    np.savez(tmp_path / "one_class.npz", x=np.zeros((20, 3)), y=np.ones(20, int))
    np.savez(tmp_path / "huge_labels.npz", x=np.zeros((20, 3)), y=np.r_[np.arange(19) % 2, 2**40])
    make_files.npz(tmp_path / "good.npz")


def _bad_tables_and_images(tmp_path):
    make_files.csv(tmp_path / "good.csv")
    (tmp_path / "words.csv").write_text("a,b,kind\n1,x,0\n2,y,1\n3,z,0\n4,w,1\n5,v,0\n")
    make_files.image_folder(tmp_path / "sizes", odd_size=True)
    make_files.image_folder(tmp_path / "corrupt")
    (tmp_path / "corrupt" / "train" / "cat" / "broken.png").write_bytes(b"\x89PNG not really")
    (tmp_path / "notest" / "train" / "a").mkdir(parents=True)
    (tmp_path / "header_only.csv").write_text("a,b,kind\n")
    (tmp_path / "one_class.csv").write_text("a,b,kind\n" + "".join(f"{i},{i % 3},1\n" for i in range(20)))
    (tmp_path / "one_name.csv").write_text("a,b,kind\n" + "".join(f"{i},{i % 3},cat\n" for i in range(20)))
    make_files.image_folder(tmp_path / "bomb")
    (tmp_path / "bomb" / "train" / "cat" / "bomb.png").write_bytes(_png_header(40_000, 40_000))


def _png_header(width, height):
    """A PNG whose header claims width x height pixels (and holds none): PIL's decompression-bomb check fires."""
    import struct
    import zlib

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IEND", b"")


def _bad_archives(tmp_path):
    make_files.hostile_cifar10(tmp_path / "hostile")
    make_files.cifar10(tmp_path / "partial")
    (tmp_path / "partial" / "cifar-10-batches-py" / "test_batch").unlink()
    make_files.cifar10(tmp_path / "wrong")
    import pickle

    with open(tmp_path / "wrong" / "cifar-10-batches-py" / "data_batch_2", "wb") as handle:
        pickle.dump({"data": np.zeros((3, 10), np.uint8), "labels": [0, 1, 2]}, handle)
    make_files.mnist(tmp_path / "labels", labels_up_to=12)
    make_files.mnist(tmp_path / "truncated")
    with gzip.open(tmp_path / "truncated" / "train-images-idx3-ubyte.gz", "wb") as handle:
        handle.write(bytes([0, 0, 8, 3]) + np.array([40, 28, 28], ">i4").tobytes() + b"\x00" * 100)
    make_files.mnist(tmp_path / "magic", gz=False)
    (tmp_path / "magic" / "t10k-labels-idx1-ubyte").write_bytes(b"\x00\x00\x0d\x01" + bytes(8))


CASES = [
    (["data=npz"], "data=npz needs data.path=... (an .npz holding x_train, y_train, x_test, y_test"),
    (["data=npz", "data.path={t}/absent.npz"], "absent.npz does not exist; expected an .npz holding"),
    (["data=npz", "data.path={t}/text.npz"], "text.npz is not a readable .npz"),
    (["data=npz", "data.path={t}/keys.npz"], "keys.npz holds arrays ['inputs']; expected an .npz holding x_train"),
    (["data=npz", "data.path={t}/short.npz"], "5 training inputs but 4 labels"),
    (["data=npz", "data.path={t}/range.npz", "data.num_classes=3"],
     "labels span 0..4, outside 0..2 (data.num_classes=3)"),
    (["data=npz", "data.path={t}/negative.npz"], "labels must be class indices 0..num_classes-1, found -1"),
    (["data=npz", "data.path={t}/fractional.npz"], "labels must be integers"),
    (["data=npz", "data.path={t}/huge_labels.npz"], "1099511627777 classes, more than the 100000"),
    (["data=npz", "data.path={t}/objects.npz"], "objects.npz is not a readable .npz"),  # allow_pickle=False
    (["data=npz", "data.path={t}/good.npz", "data.shape=[4]"], "data.shape=[4] does not match"),
    (["data=npz", "data.path={t}/good.npz", "data.num_train=100"], "data.num_train=100 exceeds the 48 samples"),
    (["data=csv", "data.path={t}/good.csv"], "data=csv needs data.label=COLUMN"),
    (["data=csv", "data.path={t}/good.csv", "data.label=species"],
     "has no column 'species' (data.label); its columns: a, b"),
    (["data=csv", "data.path={t}/words.csv", "data.label=kind"], "feature columns must be numbers; not numeric: b"),
    (["data=npz", "data.path={t}/one_class.npz"], "every training label is class 1; classification needs"),
    (["data=csv", "data.path={t}/one_class.csv", "data.label=kind"], "every training label is class 1; classif"),
    (["data=csv", "data.path={t}/one_name.csv", "data.label=kind"], "every training label is class 'cat'; class"),
    (["data=csv", "data.path={t}/header_only.csv", "data.label=kind"], "header_only.csv has a header but no rows"),
    (["data=image_folder", "data.root={t}/bomb"], "bomb.png is not an image normbench reads (DecompressionBombError"),
    (["data=image_folder", "data.root={t}/absent"], "data.root={t}/absent is not a directory; expected ROOT/train/"),
    (["data=image_folder", "data.root={t}/notest"], "has no test/ (or val/)"),
    (["data=image_folder", "data.root={t}/sizes"], "set data.image_size=N to resize every image"),
    (["data=image_folder", "data.root={t}/corrupt"], "broken.png is not a readable image"),
    (["data=cifar10"], "data=cifar10 needs data.root=... (the CIFAR-10 python batches (data_batch_1..data_batch_5"),
    (["data=cifar10", "data.root={t}/partial"], "lacks test_batch; expected the CIFAR-10 python batches"),
    (["data=cifar10", "data.root={t}/hostile"],
     "data_batch_3 was not loaded: it asks for __builtin__.print, which a data file has no use for"),
    (["data=cifar10", "data.root={t}/wrong"], "'data' must be uint8 of shape [N, 3072]"),
    (["data=cifar100", "data.root={t}/partial"],
     "lacks train, test; expected the CIFAR-100 python batches (train, test)"),
    (["data=mnist", "data.root={t}"], "lacks train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte"),
    (["data=mnist", "data.root={t}/labels"], "labels span 0..11, outside 0..9"),
    (["data=mnist", "data.root={t}/truncated"], "train-images-idx3-ubyte.gz is truncated or malformed"),
    (["data=fashion_mnist", "data.root={t}/magic"], "t10k-labels-idx1-ubyte is not an IDX file of unsigned bytes"),
]


@pytest.fixture(scope="module")
def bad_files(tmp_path_factory):
    root = tmp_path_factory.mktemp("bad")
    _bad_npz(root)
    _bad_tables_and_images(root)
    _bad_archives(root)
    return root


@pytest.mark.parametrize("overrides, message", CASES, ids=[" ".join(c[0])[5:60] for c in CASES])
def test_bad_files_are_refused_in_one_line_and_nothing_is_written(make_cfg, bad_files, tmp_path, capsys, overrides,
                                                                   message):
    results = tmp_path / "results"
    cfg = make_cfg(*TINY, "model=mlp", "batch_size=4", f"results_dir={results}",
                   *(o.format(t=bad_files) for o in overrides))
    with pytest.raises(ConfigError) as refused:
        run_experiment(cfg, results / "run")
    text = str(refused.value)
    assert message.format(t=bad_files) in text and "\n" not in text
    assert not results.exists()
    assert "a data file ran code" not in capsys.readouterr().out


def test_the_cli_refuses_a_pickle_that_would_run_code_in_one_line(forked_normbench, bad_files, tmp_path):
    results = tmp_path / "results"
    out = forked_normbench.train(tmp_path / "logs", *TINY, "model=mlp", "data=cifar10",
                                 f"data.root={bad_files / 'hostile'}", f"results_dir={results}")
    assert out.returncode == 2 and "Traceback" not in out.stderr and "a data file ran code" not in out.stdout
    assert out.stderr.strip().splitlines()[-1].startswith("normbench: error: ")
    assert "it asks for __builtin__.print" in out.stderr
    assert not results.exists() or not any(p.is_file() for p in results.rglob("*"))
