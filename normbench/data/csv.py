"""A table from the user's CSV file: numeric feature columns and one label column (data.label). The labels
are class indices 0..K-1, or names (any text), numbered in sorted order. The test set is a second file
(data.test_path) or a random data.test_fraction of the rows, drawn with the data's seed."""

from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional, Tuple

import numpy as np

from normbench.config.options import execution_only
from normbench.data._files import (
    FileDataConfig,
    check_fraction,
    existing_file,
    make_splits,
    one_line,
    required_path,
    split_off_test,
)
from normbench.data._registry import register_dataset
from normbench.errors import ConfigError

EXPECTED = "a CSV with a header row, numeric feature columns and the label column named by data.label"


@dataclass
class CsvDataConfig(FileDataConfig):
    path: Optional[str] = execution_only(None)  # the training rows (all rows without data.test_path)
    label: Optional[str] = None  # the label column's name
    test_path: Optional[str] = execution_only(None)  # the test rows; null: split off data.test_fraction
    test_fraction: float = 0.2

    def check(self) -> None:
        super().check()
        check_fraction(self.test_fraction)
        if self.label is None or not str(self.label).strip():
            raise ConfigError("data=csv needs data.label=COLUMN (the name of the label column)")

    def files(self) -> List[Tuple[str, Path]]:
        path = required_path(self.path, "data.path", "csv", EXPECTED)
        files = [("train.csv", existing_file(path, "data.path", EXPECTED))]
        if self.test_path is not None:
            test = existing_file(Path(str(self.test_path)).expanduser(), "data.test_path", EXPECTED)
            files.append(("test.csv", test))
        return files


def _read(path: Path, key: str, label: str):
    import pandas as pd

    try:
        table = pd.read_csv(path)
    except (OSError, ValueError, UnicodeDecodeError, pd.errors.ParserError) as error:
        raise ConfigError(f"{key}={path} is not a readable CSV ({one_line(error)}); expected {EXPECTED}") from None
    if table.empty:  # read as text columns, which would be refused as "not numeric"
        raise ConfigError(f"{key}={path} has a header but no rows; expected {EXPECTED}, one row per sample")
    if label not in table.columns:
        raise ConfigError(f"{key}={path} has no column {label!r} (data.label); its columns: "
                          f"{', '.join(map(str, table.columns))}")
    features = table.drop(columns=[label])
    if features.shape[1] == 0:
        raise ConfigError(f"{key}={path} has no feature column beside the label column {label!r}")
    text = [str(column) for column in features.columns if not pd.api.types.is_numeric_dtype(features[column])]
    if text:
        raise ConfigError(f"{key}={path}: feature columns must be numbers; not numeric: {', '.join(text[:5])}")
    labels = table[label]
    if labels.isna().any():
        raise ConfigError(f"{key}={path}: the label column {label!r} has empty cells")
    return list(map(str, features.columns)), features.to_numpy(dtype=np.float64), labels


@register_dataset("csv", config=CsvDataConfig)
def load(cfg: CsvDataConfig):
    files = cfg.files()
    columns, x, labels = _read(files[0][1], "data.path", cfg.label)
    source = f"data.path={files[0][1]}"
    if len(files) > 1:
        test_columns, x_test, test_labels = _read(files[1][1], "data.test_path", cfg.label)
        if test_columns != columns:
            raise ConfigError(f"data.test_path={files[1][1]} has columns {test_columns}, the training file {columns}")
    else:
        test_labels = None
    classes = None
    import pandas as pd

    if all(pd.api.types.is_numeric_dtype(part) for part in (labels, test_labels) if part is not None):
        y = labels.to_numpy()
        y_test = test_labels.to_numpy() if test_labels is not None else None
    else:  # class names: numbered in sorted order over both files
        classes = sorted(set(map(str, labels)) | (set(map(str, test_labels)) if test_labels is not None else set()))
        index = {name: i for i, name in enumerate(classes)}
        y = np.array([index[str(v)] for v in labels], dtype=np.int64)
        y_test = np.array([index[str(v)] for v in test_labels], dtype=np.int64) if test_labels is not None else None
    if y_test is None:
        parts = split_off_test(x, y, cfg.test_fraction, cfg.seed, "csv")
    else:
        parts = x, y, x_test, y_test
    return make_splits(cfg, *parts, source=source, num_classes=len(classes) if classes else None, classes=classes)
