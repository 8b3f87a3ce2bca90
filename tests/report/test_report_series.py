"""Series along the batch size: a learning rate scaled with the batch size belongs to the points."""

import pandas as pd

from normbench.report.groups import SETTING, series_along


def _settings(rows):
    base = {"experiment": "e", "model_label": "cnn", "data": "mnist1d", "context": "", "optimizer": "sgd", "optim_rest": ""}
    return pd.DataFrame([{**base, **row} for row in rows])[list(SETTING)]


def test_lr_scaled_with_batch_size_forms_one_series():
    frame = _settings([{"batch_size": b, "lr": 0.1 * b / 32} for b in (2, 8, 32, 128)])
    (values, rows, shown), *more = list(series_along(frame, "batch_size"))
    assert not more and len(rows) == 4 and "lr" not in shown and "lr" not in values


def test_independent_lr_grid_gives_one_series_per_lr():
    frame = _settings([{"batch_size": b, "lr": lr} for b in (8, 32) for lr in (0.01, 0.1)])
    series = list(series_along(frame, "batch_size"))
    assert sorted(values["lr"] for values, _, _ in series) == [0.01, 0.1]
    assert all(len(rows) == 2 and "lr" in shown for _, rows, shown in series)


def test_one_batch_size_is_no_series():
    assert list(series_along(_settings([{"batch_size": 8, "lr": 0.1}]), "batch_size")) == []
