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


def _colours(tmp_path, blank_colour=None):
    rng = np.random.default_rng(0)
    lines = ["size,colour,label"]
    for i in range(60):
        colour = "red green blue".split()[i % 3]
        size = rng.uniform(0, 3)
        label = "yes" if (colour == "red") == (size > 1.5) else "no"
        lines.append(f"{size:.3f},{'' if i == blank_colour else colour},{label}")
    path = tmp_path / "colours.csv"
    path.write_text("\n".join(lines) + "\n")
    return str(path)


def test_text_feature_columns_are_an_error_unless_one_hot_encoded(tmp_path):
    path = _colours(tmp_path)
    with pytest.raises(DataError, match="'red' is not a number.*data.categorical = 'onehot'"):
        load_dataset(DataConfig(dataset="csv", path=path), seed=0)
    ds = load_dataset(DataConfig(dataset="csv", path=path, categorical="onehot", standardize=False), seed=0)
    assert ds.feature_names == ["size", "colour=blue", "colour=green", "colour=red"]
    assert ds.encoding == {"colour": ["blue", "green", "red"]}
    onehot = ds.X_train[:, 1:]
    assert set(onehot.sum(axis=1)) == {1.0}  # each row: exactly one colour


def test_categories_are_learned_from_the_training_rows_only(tmp_path):
    path = tmp_path / "rare.csv"
    lines = ["x,kind,label"] + [f"{i},{'common' if i else 'rare'},{'ab'[i % 2]}" for i in range(40)]
    path.write_text("\n".join(lines) + "\n")
    for seed in range(6):
        ds = load_dataset(DataConfig(dataset="csv", path=str(path), categorical="onehot", standardize=False,
                                     val_size=0), seed=seed)
        in_training = 0 in ds.X_train[:, 0]
        assert ("kind=rare" in ds.feature_names) == in_training  # a test-only category is unknown: all zeros
        if not in_training:
            assert ds.X_test[ds.X_test[:, 0] == 0, 1:].sum() == 0


def test_a_one_hot_run_predicts_csv_and_dataframe_rows(tmp_path):
    path = _colours(tmp_path)
    config = config_from_dict({"data": {"dataset": "csv", "path": path, "categorical": "onehot"},
                               "model": {"hidden": [16], "activation": "tanh"}, "train": {"epochs": 60}})
    train(config, tmp_path / "run")
    model = load_run(tmp_path / "run")
    assert model.input_columns == ["size", "colour"]
    encoded = model.encode({"size": [2.5, 2.5, 0.5, 0.5], "colour": ["red", "green", "red", "purple"]})
    np.testing.assert_array_equal(encoded[:, 1:], [[0, 0, 1], [0, 1, 0], [0, 0, 1], [0, 0, 0]])  # purple: unseen
    assert list(model.predict(encoded[:3])) == ["yes", "no", "no"]  # the rule the data follows
    with pytest.raises(ValueError, match="one-hot encodes the text columns"):
        model.predict(np.zeros((2, 2)))
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame({"colour": ["red", "green"], "size": [2.5, 2.5]})
    assert list(model.predict(frame)) == ["yes", "no"]


def test_predict_command_with_a_text_column(tmp_path, capsys):
    from minnet.cli import main

    path = _colours(tmp_path)
    config = config_from_dict({"data": {"dataset": "csv", "path": path, "categorical": "onehot"},
                               "train": {"epochs": 20}})
    train(config, tmp_path / "run")
    capsys.readouterr()
    assert main(["evaluate", str(tmp_path / "run"), path]) == 0
    assert "accuracy" in capsys.readouterr().out
    new = tmp_path / "new.csv"
    new.write_text("colour,size\nred,2.5\npurple,0.5\n")  # another order, and an unseen colour
    assert main(["predict", str(tmp_path / "run"), str(new)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "prediction,proba_no,proba_yes" and len(lines) == 3


def test_an_empty_text_cell_is_an_error_or_its_own_category(tmp_path):
    path = _colours(tmp_path, blank_colour=4)
    with pytest.raises(DataError, match="column 'colour' is empty"):
        load_dataset(DataConfig(dataset="csv", path=path, categorical="onehot"), seed=0)
    ds = load_dataset(DataConfig(dataset="csv", path=path, categorical="onehot", missing="most_frequent",
                                 val_size=0, standardize=False), seed=0)
    blank_size = float(open(path).read().splitlines()[5].split(",")[0])  # data row 4
    in_training = np.isclose(ds.X_train[:, 0], blank_size).any()
    assert ("colour=" in ds.feature_names) == bool(in_training)  # the empty cell is a category of its own


def test_a_relative_data_path_is_found_from_the_config_file_too(tmp_path, monkeypatch):
    from minnet.train.config import load_config

    project = tmp_path / "project"
    (project / "configs").mkdir(parents=True)
    (project / "data").mkdir()
    _write(project / "data")
    (project / "configs" / "mine.toml").write_text('[data]\ndataset = "csv"\npath = "data/t.csv"\n')
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)  # not the project's root: found beside the config's folder
    config = load_config(project / "configs" / "mine.toml")
    assert config.data.path == str((project / "data" / "t.csv").resolve())
    monkeypatch.chdir(project)  # from the root, the path stays as written
    assert load_config(project / "configs" / "mine.toml").data.path == "data/t.csv"
