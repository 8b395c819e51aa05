import dataclasses
import socket
from pathlib import Path

import numpy as np
import pytest

from minnet.train.data import (
    DATASETS,
    GENERATED,
    USES_NOISE,
    DataConfig,
    DataError,
    load_dataset,
    minibatches,
)
from minnet.train.errors import ConfigError

EXAMPLE_CSV = Path(__file__).resolve().parents[1] / "data" / "example.csv"

# name -> (rows with n_samples=40, features, outputs, task)
EXPECTED = {
    "moons": (40, 2, 2, "classification"),
    "circles": (40, 2, 2, "classification"),
    "blobs": (40, 2, 3, "classification"),
    "classification": (40, 10, 3, "classification"),
    "regression": (40, 8, 1, "regression"),
    "iris": (150, 4, 3, "classification"),
    "wine": (178, 13, 3, "classification"),
    "breast_cancer": (569, 30, 2, "classification"),
    "digits": (1797, 64, 10, "classification"),
    "diabetes": (442, 10, 1, "regression"),
    "csv": (210, 3, 3, "classification"),
}


def _cfg(name, **kw):
    if name == "csv":
        kw.setdefault("path", str(EXAMPLE_CSV))
    return DataConfig(dataset=name, n_samples=kw.pop("n_samples", 40), **kw)


@pytest.fixture
def no_network(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("tried to use the network")
    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


# ---- registry and every dataset -----------------------------------------------------------


def test_registry_has_exactly_the_design_names():
    assert set(DATASETS) == set(EXPECTED)
    assert GENERATED == {"moons", "circles", "blobs", "classification", "regression"}
    assert USES_NOISE == {"moons", "circles", "regression"}
    assert DATASETS["csv"].options == {"path", "target", "features", "exclude", "delimiter", "missing", "categorical"}
    assert DATASETS["iris"].options == set()


def test_data_config_defaults_follow_the_design():
    cfg = DataConfig()
    assert (cfg.dataset, cfg.n_samples, cfg.noise) == ("moons", 1000, 0.2)
    assert (cfg.test_size, cfg.standardize) == (0.25, True)
    assert cfg.path is None and cfg.target is None
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.noise = 0.5


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_every_dataset_loads_offline_with_the_right_shapes(name, no_network):
    rows, features, outputs, task = EXPECTED[name]
    ds = load_dataset(_cfg(name), seed=0)
    assert ds.task == task
    assert DATASETS[name].task in (task, None)
    n_test = int(np.ceil(0.25 * rows))
    n_val = int(np.ceil(0.2 * (rows - n_test)))  # data.val_size of the training split
    n_train = rows - n_test - n_val
    assert ds.X_train.shape == (n_train, features) and ds.X_test.shape == (n_test, features)
    assert ds.X_val.shape == (n_val, features) and ds.X_val.dtype == np.float32
    assert ds.X_train.dtype == np.float32 and ds.X_test.dtype == np.float32
    assert ds.n_features == features and ds.n_outputs == outputs
    assert len(ds.feature_names) == features
    if task == "classification":
        assert ds.y_train.dtype == np.int64 and ds.y_train.shape == (n_train,) and ds.y_val.shape == (n_val,)
        assert len(ds.class_names) == outputs and ds.target_names is None
        np.testing.assert_array_equal(np.unique(ds.y_train), np.arange(outputs))
        assert 0 <= ds.y_test.min() and ds.y_test.max() < outputs
    else:
        assert ds.y_train.dtype == np.float32 and ds.y_train.shape == (n_train, 1) and ds.y_val.shape == (n_val, 1)
        assert ds.y_test.shape == (n_test, 1)
        assert len(ds.target_names) == 1 and ds.class_names is None


def test_known_names_come_through():
    iris = load_dataset(_cfg("iris"), seed=0)
    assert iris.class_names == ["setosa", "versicolor", "virginica"]
    assert iris.feature_names[0] == "sepal length (cm)"
    assert load_dataset(_cfg("moons"), seed=0).feature_names == ["x0", "x1"]
    assert load_dataset(_cfg("diabetes"), seed=0).target_names == ["progression"]


def test_float64_is_honoured_for_inputs_and_regression_targets():
    ds = load_dataset(_cfg("regression"), seed=0, dtype="float64")
    assert ds.X_train.dtype == ds.y_train.dtype == ds.X_test.dtype == ds.y_test.dtype == np.float64


def test_unknown_dataset_lists_the_allowed_names():
    with pytest.raises(ConfigError, match="unknown dataset 'mnist'; choose one of moons, circles"):
        load_dataset(DataConfig(dataset="mnist"), seed=0)


# ---- seeds, n_samples, noise ------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(GENERATED))
def test_same_seed_same_data_other_seed_other_data(name):
    a, b, c = (load_dataset(_cfg(name), seed=s) for s in (3, 3, 4))
    for field in ("X_train", "y_train", "X_test", "y_test"):
        np.testing.assert_array_equal(getattr(a, field), getattr(b, field))
    assert not np.allclose(a.X_train, c.X_train)


@pytest.mark.parametrize("name", sorted(EXPECTED.keys() - GENERATED))
def test_fixed_datasets_are_split_by_the_seed(name):
    a, b = (load_dataset(_cfg(name), seed=s) for s in (0, 1))
    assert a.X_train.shape == b.X_train.shape and not np.array_equal(a.X_train, b.X_train)


def test_noise_is_honoured():
    """Moons without noise lie exactly on two half circles of radius 1."""
    ds = load_dataset(_cfg("moons", noise=0.0, standardize=False), seed=0)
    centres = np.where(ds.y_train[:, None] == 0, [0.0, 0.0], [1.0, 0.5])
    np.testing.assert_allclose(np.linalg.norm(ds.X_train - centres, axis=1), 1.0, rtol=1e-6)
    noisy = load_dataset(_cfg("moons", noise=0.3, standardize=False), seed=0)
    centres = np.where(noisy.y_train[:, None] == 0, [0.0, 0.0], [1.0, 0.5])
    assert np.std(np.linalg.norm(noisy.X_train - centres, axis=1)) > 0.1


# ---- split and scaling --------------------------------------------------------------------


def test_stratified_split_keeps_class_proportions():
    ds = load_dataset(_cfg("breast_cancer"), seed=0)
    share_train = np.bincount(ds.y_train) / len(ds.y_train)
    share_test = np.bincount(ds.y_test) / len(ds.y_test)
    np.testing.assert_allclose(share_test, share_train, atol=1 / len(ds.y_test))
    for seed in range(5):  # 38 test rows of 3 classes of 50: 12 or 13 each, whatever the seed
        assert sorted(np.bincount(load_dataset(_cfg("iris"), seed=seed).y_test)) == [12, 13, 13]


def test_scaler_is_fitted_on_the_training_part_only():
    raw = load_dataset(_cfg("wine", standardize=False), seed=0, dtype="float64")
    ds = load_dataset(_cfg("wine"), seed=0, dtype="float64")
    assert raw.x_mean is None and raw.x_scale is None
    np.testing.assert_allclose(ds.x_mean, raw.X_train.mean(axis=0))
    np.testing.assert_allclose(ds.x_scale, raw.X_train.std(axis=0))
    np.testing.assert_allclose(ds.X_train.mean(axis=0), 0, atol=1e-12)
    np.testing.assert_allclose(ds.X_train.std(axis=0), 1)
    np.testing.assert_allclose(ds.X_test, (raw.X_test - raw.X_train.mean(0)) / raw.X_train.std(0))
    assert np.abs(ds.X_test.mean(axis=0)).max() > 0.05  # the test part is not re-centred
    np.testing.assert_allclose((raw.X_test - ds.x_mean) / ds.x_scale, ds.X_test)  # for new raw inputs


def test_regression_target_is_standardised_and_can_be_mapped_back():
    raw = load_dataset(_cfg("diabetes", standardize=False), seed=0, dtype="float64")
    ds = load_dataset(_cfg("diabetes"), seed=0, dtype="float64")
    np.testing.assert_array_equal((raw.y_mean, raw.y_scale), ([0.0], [1.0]))
    assert 25 <= raw.y_train.min() and raw.y_train.max() <= 346  # raw units of the data set
    np.testing.assert_allclose(ds.y_mean, raw.y_train.mean(axis=0))
    np.testing.assert_allclose(ds.y_train.mean(), 0, atol=1e-12)
    np.testing.assert_allclose(ds.y_train.std(), 1)
    np.testing.assert_allclose(ds.unscale_target(ds.y_test), raw.y_test)
    assert load_dataset(_cfg("iris"), seed=0).y_mean is None


def test_generated_data_too_small_to_stratify_is_a_data_error():
    with pytest.raises(DataError, match=r"dataset 'moons' with data.n_samples=3: class '0' has 1 row"):
        load_dataset(_cfg("moons", n_samples=3), seed=0)
    with pytest.raises(DataError, match=r"2 test, but a stratified split of 3 classes needs at least 3 rows"):
        load_dataset(_cfg("blobs", n_samples=30, test_size=0.05), seed=0)
    with pytest.raises(DataError, match=r"has only 1 row\(s\), too few to split"):
        load_dataset(_cfg("regression", n_samples=1), seed=0)


# ---- csv ----------------------------------------------------------------------------------------


def _write(tmp_path, text, name="t.csv"):
    path = tmp_path / name
    path.write_bytes(text.encode() if isinstance(text, str) else text)
    return str(path)


def _table(labels, extra=""):
    """Two features and the given target cells, one row each."""
    lines = [f"a,b,label{extra}"] + [f"{i},{i % 3 * 0.5},{y}" for i, y in enumerate(labels)]
    return "\n".join(lines) + "\n"


def test_csv_string_labels_are_encoded_in_sorted_order(tmp_path):
    path = _write(tmp_path, _table(["pear", "fig", "apple"] * 4))
    ds = load_dataset(DataConfig(dataset="csv", path=path, standardize=False, val_size=0), seed=0)
    assert ds.task == "classification" and ds.class_names == ["apple", "fig", "pear"]
    assert ds.feature_names == ["a", "b"]
    train_ids = ds.X_train[:, 0].astype(int)  # column a is the row index
    np.testing.assert_array_equal(ds.y_train, [{0: 2, 1: 1, 2: 0}[i % 3] for i in train_ids])


def test_csv_example_loads_by_name_and_by_default_last_column():
    by_name = load_dataset(DataConfig(dataset="csv", path=str(EXAMPLE_CSV), target="fruit"), seed=0)
    by_default = load_dataset(DataConfig(dataset="csv", path=str(EXAMPLE_CSV)), seed=0)
    assert by_name.class_names == by_default.class_names == ["apple", "lemon", "orange"]
    assert by_name.feature_names == ["weight_g", "diameter_cm", "sugar_pct"]
    np.testing.assert_array_equal(by_name.X_train, by_default.X_train)


def test_csv_target_by_name_from_the_middle(tmp_path):
    path = _write(tmp_path, "x,kind,z\n1,a,10\n2,b,20\n3,a,30\n4,b,40\n5,a,50\n6,b,60\n7,a,70\n8,b,80\n")
    ds = load_dataset(DataConfig(dataset="csv", path=path, target="kind", standardize=False, val_size=0), seed=0)
    assert ds.feature_names == ["x", "z"] and ds.class_names == ["a", "b"]
    np.testing.assert_array_equal(ds.X_train[:, 1], ds.X_train[:, 0] * 10)
    np.testing.assert_array_equal(ds.y_train, (ds.X_train[:, 0] % 2 == 0).astype(int))


def test_csv_integer_targets_are_classes_and_other_numbers_regression(tmp_path):
    def load(labels):
        return load_dataset(DataConfig(dataset="csv", path=_write(tmp_path, _table(labels)), val_size=0), seed=0)

    ints = load([3, 1, 2.0, -1] * 4)
    assert ints.task == "classification" and ints.class_names == ["-1", "1", "2", "3"]
    floats = load([0.5, 1.5, 2.25] * 4)
    assert floats.task == "regression" and floats.target_names == ["label"] and floats.y_train.shape == (9, 1)
    assert load([1, 2, 1, 2, 1, 2, 7]).task == "regression"  # class 7 would have one row
    assert load(list(range(21)) * 2).task == "regression"  # more than 20 distinct integers
    assert load(list(range(20)) * 4).n_outputs == 20


def test_csv_relative_path_is_relative_to_the_working_directory(tmp_path, monkeypatch):
    (tmp_path / "sub").mkdir()
    _write(tmp_path / "sub", _table(["x", "y"] * 4))
    monkeypatch.chdir(tmp_path)
    assert load_dataset(DataConfig(dataset="csv", path="sub/t.csv"), seed=0).class_names == ["x", "y"]
    monkeypatch.chdir(tmp_path / "sub")
    with pytest.raises(DataError) as info:
        load_dataset(DataConfig(dataset="csv", path="sub/t.csv"), seed=0)
    assert str(info.value) == (
        f"data.path 'sub/t.csv' does not exist (relative to the working directory {str(tmp_path / 'sub')!r})"
    )


def test_csv_skips_blank_lines_and_strips_cells(tmp_path):
    path = _write(tmp_path, "a , label\n\n1, x\n2 ,y\n\n3,x\n4,y \n\n")
    ds = load_dataset(DataConfig(dataset="csv", path=path, test_size=0.5, val_size=0), seed=0)
    assert ds.feature_names == ["a"] and ds.class_names == ["x", "y"] and len(ds.y_train) == 2


BAD_CSV = {
    "empty": ("", "is empty; expected a header row"),
    "blank lines only": ("\n\n  \n", "is empty"),
    "no header": ("1,2,3\n4,5,6\n", "line 1 has no header: every cell is a number"),
    "header only": ("a,b\n", "has a header but no data rows"),
    "one column": ("label\nx\ny\n", "has a single column 'label'"),
    "unnamed column": ("a,,label\n1,2,x\n", "line 1: column 2 of the header has no name"),
    "duplicate column": ("a,a,label\n1,2,x\n", "duplicate column name 'a'"),
    "short row": ("a,b,label\n1,2,x\n\n1,2\n", "line 4 has 2 cells, expected 3"),
    "long row": ("a,b,label\n1,2,x,9\n", "line 2 has 4 cells, expected 3"),
    "text feature": ("a,b,label\n1,2,x\n1,abc,y\n", "line 3, column 'b': 'abc' is not a number"),
    "empty feature": ("a,b,label\n1,,x\n", "line 2, column 'b' is empty; missing values"),
    "nan feature": ("a,b,label\n1,2,x\n1,NaN,x\n", "line 3, column 'b' holds 'NaN'; missing values"),
    "NA feature": ("a,b,label\n1,NA,x\n", "line 2, column 'b' holds 'NA'; missing values"),
    "inf feature": ("a,b,label\ninf,2,x\n", "line 2, column 'a' holds 'inf'; missing values"),
    "empty target": ("a,label\n1,x\n2,\n", "line 3, column 'label' is empty"),
    "nan target": ("a,label\n1,1.5\n2,nan\n", "line 3, column 'label' holds 'nan'"),
    "one data row": ("a,label\n1,2.5\n", "has only 1 row(s), too few to split"),
    "singleton class": ("a,label\n1,x\n2,x\n3,y\n4,x\n", "class 'y' has 1 row(s); a stratified"),
    "single class": ("a,label\n1,x\n2,x\n", "target column 'label' has a single class 'x'"),
    "not utf-8": (b"a,label\n1,\xff\xfe\n", "is not UTF-8 text"),
}


@pytest.mark.parametrize("case", sorted(BAD_CSV))
def test_bad_csv_is_a_one_line_data_error_naming_the_file(tmp_path, case):
    text, expected = BAD_CSV[case]
    path = _write(tmp_path, text, name="bad file.csv")
    with pytest.raises(DataError) as info:
        load_dataset(DataConfig(dataset="csv", path=path), seed=0)
    message = str(info.value)
    assert message.startswith(f"data.path '{path}'") and expected in message
    assert "\n" not in message


def test_missing_file_directory_and_unknown_target(tmp_path):
    missing = str(tmp_path / "x.csv")
    with pytest.raises(DataError, match=r"^data.path '.*x.csv' does not exist$"):
        load_dataset(DataConfig(dataset="csv", path=missing), seed=0)
    with pytest.raises(DataError, match=r"is not a file"):
        load_dataset(DataConfig(dataset="csv", path=str(tmp_path)), seed=0)
    path = _write(tmp_path, _table(["x", "y"] * 4))
    with pytest.raises(DataError) as info:
        load_dataset(DataConfig(dataset="csv", path=path, target="nope"), seed=0)
    expected = f"data.target 'nope' is not a column of data.path '{path}'; columns are: a, b, label"
    assert str(info.value) == expected


def test_csv_without_path_is_a_config_error():
    with pytest.raises(ConfigError, match="data.path is required when data.dataset is 'csv'"):
        load_dataset(DataConfig(dataset="csv"), seed=0)


# ---- minibatches ----------------------------------------------------------------------------------


@pytest.mark.parametrize("n, batch_size", [(10, 3), (12, 4), (5, 8), (1, 1), (0, 4)])
def test_minibatches_cover_every_index_once(n, batch_size):
    batches = list(minibatches(n, batch_size, shuffle=True, rng=np.random.default_rng(0)))
    sizes = [len(b) for b in batches]
    assert sizes == [batch_size] * (n // batch_size) + ([n % batch_size] if n % batch_size else [])
    np.testing.assert_array_equal(np.sort(np.concatenate(batches or [np.array([], int)])), np.arange(n))


def test_minibatches_are_one_seeded_permutation_drawn_at_call_time():
    rng, twin = np.random.default_rng(7), np.random.default_rng(7)
    batches = minibatches(10, 4, shuffle=True, rng=rng)
    expected = twin.permutation(10)
    assert rng.bit_generator.state == twin.bit_generator.state  # drawn before iterating
    np.testing.assert_array_equal(np.concatenate(list(batches)), expected)
    second = np.concatenate(list(minibatches(10, 4, shuffle=True, rng=rng)))
    np.testing.assert_array_equal(second, twin.permutation(10))
    assert not np.array_equal(second, expected)


def test_minibatches_without_shuffle_are_in_order_and_leave_the_rng_alone():
    rng = np.random.default_rng(0)
    state = rng.bit_generator.state
    batches = list(minibatches(7, 3, shuffle=False, rng=rng))
    assert [b.tolist() for b in batches] == [[0, 1, 2], [3, 4, 5], [6]]
    assert rng.bit_generator.state == state


@pytest.mark.parametrize("batch_size", [0, -1, 2.5, True])
def test_minibatches_reject_a_bad_batch_size(batch_size):
    with pytest.raises(ValueError, match="batch_size: expected an integer >= 1"):
        minibatches(10, batch_size, shuffle=False, rng=np.random.default_rng(0))
