"""Images in the ImageFolder layout (torchvision's): `ROOT/train/<class>/*.png|jpg` and `ROOT/test/<class>/...`
(or `ROOT/val/`), classes numbered in sorted order of their folder names. A root with both `test/` and `val/`
ships its own validation split: `val/` is it (unless data.val_fraction=0, which reads no validation split);
with `val/` alone, `val/` is the test split and the validation split is carved from `train/`. Read with PIL;
data.image_size=N resizes every image to N x N (bilinear), otherwise all images must have one size. Grayscale
images give one channel; if any image has colour, every image is read as RGB."""

from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional, Tuple

import numpy as np

from normbench.config.options import execution_only, positive
from normbench.data._files import FileDataConfig, make_splits, one_line, required_path
from normbench.data._registry import register_dataset
from normbench.errors import ConfigError

SUFFIXES = {".png", ".jpg", ".jpeg"}
EXPECTED = "ROOT/train/<class>/*.png|jpg and ROOT/test/<class>/... (or ROOT/val/)"


@dataclass
class ImageFolderDataConfig(FileDataConfig):
    root: Optional[str] = execution_only(None)  # holds train/ and test/ (or val/)
    image_size: Optional[int] = None  # N: resize to N x N; null: the images' own (common) size

    def check(self) -> None:
        super().check()
        if self.image_size is not None:
            positive(self.image_size, "data.image_size")

    def layout(self) -> Tuple[Path, Path, List[str]]:
        """The train and test folders and the class names (train's subfolders, sorted)."""
        root = required_path(self.root, "data.root", "image_folder", EXPECTED)
        if not root.is_dir():
            raise ConfigError(f"data.root={root} is not a directory; expected {EXPECTED} (nothing is downloaded)")
        train = root / "train"
        test = next((root / name for name in ("test", "val") if (root / name).is_dir()), None)
        if not train.is_dir() or test is None:
            missing = "train/" if not train.is_dir() else "test/ (or val/)"
            raise ConfigError(f"data.root={root} has no {missing}; expected {EXPECTED}")
        classes = sorted(p.name for p in train.iterdir() if p.is_dir() and not p.name.startswith("."))
        if len(classes) < 2:
            raise ConfigError(f"data.root={root}: train/ has {len(classes)} class folder(s); expected one folder per "
                              f"class, at least 2: {EXPECTED}")
        _refuse_unknown_classes(test, classes, root)
        return train, test, classes

    def shipped_val(self) -> Optional[Path]:
        """The validation folder the root ships (`val/` beside `test/`), where the run uses one; else None."""
        train, test, classes = self.layout()
        val = train.parent / "val"
        if test.name != "test" or not val.is_dir() or self.val_fraction == 0:
            return None
        _refuse_unknown_classes(val, classes, train.parent)
        return val

    def images(self) -> List[Tuple[str, Path]]:
        """(ROOT-relative name, path) of every image the run reads, sorted (a shipped val/ only where it is read,
        so runs that never read it keep their fingerprint)."""
        train, test, classes = self.layout()
        found = []
        for split in (train, test, self.shipped_val()):
            if split is None:
                continue
            for name in classes:
                folder = split / name
                if folder.is_dir():
                    found += sorted(p for p in folder.iterdir() if p.suffix.lower() in SUFFIXES and p.is_file())
        return [(p.relative_to(train.parent).as_posix(), p) for p in found]

    def files(self) -> List[Tuple[str, Path]]:
        return self.images()


def _refuse_unknown_classes(folder: Path, classes: List[str], root: Path) -> None:
    extra = sorted(p.name for p in folder.iterdir()
                   if p.is_dir() and not p.name.startswith(".") and p.name not in classes)
    if extra:
        raise ConfigError(f"data.root={root}: {folder.name}/ has class folders that train/ lacks: {', '.join(extra)}")


def _read_split(folder: Path, classes: List[str], size: Optional[int]):
    from PIL import Image, UnidentifiedImageError

    images, labels = [], []
    for index, name in enumerate(classes):
        if not (folder / name).is_dir():
            continue
        for path in sorted(p for p in (folder / name).iterdir() if p.suffix.lower() in SUFFIXES and p.is_file()):
            try:
                with Image.open(path) as image:
                    image.load()
                    images.append((path, image.copy()))
            except (OSError, UnidentifiedImageError, ValueError) as error:
                raise ConfigError(f"{path} is not a readable image ({one_line(error)})") from None
            labels.append(index)
    if not images:
        raise ConfigError(f"{folder} holds no .png/.jpg images in its class folders; expected {EXPECTED}")
    return images, np.array(labels, dtype=np.int64)


def _pixels(images, mode: str, size: Optional[int]) -> np.ndarray:
    from PIL import Image

    arrays, first = [], None
    for path, image in images:
        image = image.convert(mode)
        if size is not None:
            image = image.resize((size, size), Image.Resampling.BILINEAR)
        array = np.asarray(image, dtype=np.uint8)
        if first is None:
            first = (path, array.shape)
        elif array.shape != first[1]:
            raise ConfigError(f"{path} is {array.shape[1]}x{array.shape[0]} but {first[0]} is "
                              f"{first[1][1]}x{first[1][0]}; set data.image_size=N to resize every image to N x N")
        arrays.append(array)
    stacked = np.stack(arrays)
    return stacked[:, None] if stacked.ndim == 3 else stacked.transpose(0, 3, 1, 2)  # N, C, H, W


@register_dataset("image_folder", config=ImageFolderDataConfig)
def load(cfg: ImageFolderDataConfig):
    train, test, classes = cfg.layout()
    train_images, y_train = _read_split(train, classes, cfg.image_size)
    test_images, y_test = _read_split(test, classes, cfg.image_size)
    shipped = cfg.shipped_val()
    val_images, y_val = _read_split(shipped, classes, cfg.image_size) if shipped is not None else ([], None)
    gray = all(image.mode in ("L", "1", "LA", "I", "I;16") for _, image in train_images + test_images + val_images)
    mode = "L" if gray else "RGB"
    x_train, x_test = _pixels(train_images, mode, cfg.image_size), _pixels(test_images, mode, cfg.image_size)
    val = (_pixels(val_images, mode, cfg.image_size) / 255.0, y_val) if shipped is not None else None
    if x_train.shape[1:] != x_test.shape[1:]:
        raise ConfigError(f"data.root={cfg.root}: training images are {x_train.shape[3]}x{x_train.shape[2]} but test "
                          f"images {x_test.shape[3]}x{x_test.shape[2]}; set data.image_size=N to resize all to N x N")
    return make_splits(cfg, x_train / 255.0, y_train, x_test / 255.0, y_test, source=f"data.root={cfg.root}",
                       num_classes=len(classes), classes=classes, val=val)
