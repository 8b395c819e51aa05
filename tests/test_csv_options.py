"""CSV options: delimiter, features and exclude, pandas' index column, missing values."""

from __future__ import annotations

import numpy as np
import pytest

from minnet.train import load_run, train
from minnet.train.config import DataConfig, config_from_dict
from minnet.train.data import load_dataset
from minnet.train.errors import ConfigError, DataError

ROWS = [(i, 0.1 * i, (i * 7) % 5, "ab"[i % 2]) for i in range(40)]


def _write(tmp_path, delimiter=",", index=False, blank=None, name="t.csv"):
    lines = [delimiter.join((["" ] if index else []) + ["id", "x", "z", "label"])]
    for n, (i, x, z, label) in enumerate(ROWS):
        cells = [str(i), f"{x:.3f}", str(z), label]
        if blank is not None and n in blank:
            cells[1] = ""
        lines.append(delimiter.join(([str(n)] if index else []) + cells))
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n")
    return str(path)


@pytest.mark.parametrize("delimiter, setting", [(";", ";"), ("\t", "\t"), (";", "auto"), ("\t", "auto"), (",", "auto")])
def test_semicolon_and_tab_files_and_sniffing(tmp_path, delimiter, setting):
    ds = load_dataset(DataConfig(dataset="csv", path=_write(tmp_path, delimiter), delimiter=setting, val_size=0), seed=0)
    assert ds.feature_names == ["id", "x", "z"] and ds.class_names == ["a", "b"]


def test_pandas_index_column_is_dropped(tmp_path):
    ds = load_dataset(DataConfig(dataset="csv", path=_write(tmp_path, index=True), val_size=0), seed=0)
    assert ds.feature_names == ["id", "x", "z"]


def test_features_and_exclude_choose_the_columns(tmp_path):
    path = _write(tmp_path)
    assert load_dataset(DataConfig(dataset="csv", path=path, exclude=("id",)), seed=0).feature_names == ["x", "z"]
    chosen = load_dataset(DataConfig(dataset="csv", path=path, features=("z", "x")), seed=0)
    assert chosen.feature_names == ["z", "x"]
    with pytest.raises(DataError, match=r"data.exclude: \['idd'\] are not columns"):
        load_dataset(DataConfig(dataset="csv", path=path, exclude=("idd",)), seed=0)
    with pytest.raises(DataError, match="lists the target column 'label'"):
        load_dataset(DataConfig(dataset="csv", path=path, features=("x", "label")), seed=0)


def test_missing_values_are_an_error_by_default_and_filled_from_training_rows_on_request(tmp_path):
    path = _write(tmp_path, blank={3, 8})
    with pytest.raises(DataError, match="column 'x' is empty"):
        load_dataset(DataConfig(dataset="csv", path=path), seed=0)
    ds = load_dataset(DataConfig(dataset="csv", path=path, missing="median", standardize=False, val_size=0), seed=0)
    assert not np.isnan(ds.X_train).any() and not np.isnan(ds.X_test).any()
    ids = ds.X_train[:, 0].astype(int)  # column id is the row number
    observed = [ROWS[i][1] for i in ids if i not in (3, 8)]
    assert ds.fill[1] == pytest.approx(np.median(observed), abs=1e-3)  # the training rows' median only
    for i in (3, 8):
        if i in ids:  # an empty cell in a training row holds that median
            assert ds.X_train[list(ids).index(i), 1] == pytest.approx(ds.fill[1])


def test_a_run_with_filled_values_predicts_rows_with_empty_cells(tmp_path):
    path = _write(tmp_path, blank={3, 8})
    config = config_from_dict({"data": {"dataset": "csv", "path": path, "missing": "mean", "exclude": ["id"]},
                               "train": {"epochs": 3}})
    train(config, tmp_path / "run")
    model = load_run(tmp_path / "run")
    predicted = model.predict(np.array([[np.nan, 2.0], [1.0, 3.0]]))
    assert len(predicted) == 2 and set(predicted) <= {"a", "b"}


def test_csv_option_values_are_checked():
    with pytest.raises(ConfigError, match="data.delimiter: expected one of"):
        config_from_dict({"data": {"dataset": "csv", "path": "x.csv", "delimiter": "|"}})
    with pytest.raises(ConfigError, match="data.missing: expected one of"):
        config_from_dict({"data": {"dataset": "csv", "path": "x.csv", "missing": "zero"}})
    with pytest.raises(ConfigError, match="data.exclude does not apply to dataset 'moons'"):
        config_from_dict({"data": {"exclude": ["id"]}})
