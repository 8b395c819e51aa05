"""minnet.sklearn: scikit-learn's own estimator checks, then the tools users combine them with."""

import re

import numpy as np
import pytest
from sklearn.compose import TransformedTargetRegressor
from sklearn.datasets import load_diabetes, load_iris, make_moons, make_regression
from sklearn.model_selection import GridSearchCV, StratifiedKFold, cross_val_score, train_test_split, validation_curve
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

from minnet.sklearn import MLPClassifier, MLPRegressor


# Both with their default parameters: the checks fit raw make_regression targets
# (standard deviation 40-160), which the default standardisation handles.
@parametrize_with_checks([MLPClassifier(), MLPRegressor()])
def test_sklearn_estimator_checks(estimator, check, monkeypatch):
    # check_array_api_input skips unless this is set; it feeds NumPy arrays only
    # (the estimators declare no array-API support), for which SciPy's own
    # import-time reading of the variable makes no difference.
    monkeypatch.setenv("SCIPY_ARRAY_API", "1")
    check(estimator)


def _scaled(estimator):
    return make_pipeline(StandardScaler(), estimator)


@pytest.fixture(scope="module")
def noisy_moons():
    return make_moons(200, noise=0.3, random_state=0)


# ---- what the defaults reach ----------------------------------------------------------------


def test_defaults_fit_moons_and_iris():
    X, y = make_moons(400, noise=0.15, random_state=0)
    X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0, stratify=y)
    assert _scaled(MLPClassifier(random_state=0)).fit(X_train, y_train).score(X_test, y_test) >= 0.95

    X, y = load_iris(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0, stratify=y)
    assert _scaled(MLPClassifier(random_state=0)).fit(X_train, y_train).score(X_test, y_test) >= 0.9


def test_cross_val_score_on_iris():
    X, y = load_iris(return_X_y=True)
    scores = cross_val_score(_scaled(MLPClassifier(random_state=0)), X, y, cv=5)
    assert scores.shape == (5,)
    assert scores.mean() > 0.9


def test_fitted_attributes():
    X, y = load_iris(return_X_y=True)
    clf = MLPClassifier(hidden=(8, 4), epochs=30, random_state=0).fit(StandardScaler().fit_transform(X), y)
    assert clf.n_features_in_ == 4
    np.testing.assert_array_equal(clf.classes_, [0, 1, 2])
    assert [p.shape for p in clf.model_.parameters()] == [(8, 4), (8,), (4, 8), (4,), (3, 4), (3,)]
    assert clf.n_iter_ == 30 and len(clf.loss_curve_) == 30
    assert clf.loss_curve_[-1] < 0.5 * clf.loss_curve_[0]


# ---- labels, determinism, dtypes ------------------------------------------------------------


def test_string_labels_round_trip():
    X, y = load_iris(return_X_y=True)
    names = np.array(["setosa", "versicolor", "virginica"])[y]
    clf = _scaled(MLPClassifier(random_state=0)).fit(X, names)
    np.testing.assert_array_equal(clf.classes_, ["setosa", "versicolor", "virginica"])
    predicted = clf.predict(X)
    assert predicted.dtype.kind == "U"
    assert set(predicted) == set(names)
    assert np.mean(predicted == names) > 0.9
    proba = clf.predict_proba(X)
    np.testing.assert_array_equal(clf.classes_[proba.argmax(axis=1)], predicted)


def test_same_random_state_gives_identical_results(noisy_moons):
    X, y = noisy_moons
    first = MLPClassifier(random_state=3).fit(X, y)
    second = MLPClassifier(random_state=3).fit(X, y)
    other = MLPClassifier(random_state=4).fit(X, y)
    np.testing.assert_array_equal(first.predict_proba(X), second.predict_proba(X))
    assert first.loss_curve_ == second.loss_curve_
    assert not np.array_equal(first.predict_proba(X), other.predict_proba(X))


def test_float32_trains_and_predicts_in_float32(noisy_moons):
    X, y = noisy_moons
    clf = MLPClassifier(dtype="float32", random_state=0).fit(X, y)
    assert all(p.dtype == np.float32 for p in clf.model_.parameters())
    assert clf.predict_proba(X).dtype == np.float32
    assert clf.score(X, y) > 0.85


# ---- regularisation in scikit-learn's model selection ---------------------------------------


def test_validation_curve_over_l2_shows_regularisation(noisy_moons):
    X, y = noisy_moons
    l2s = [0.0, 1e-2, 1.0]
    train, test = validation_curve(
        _scaled(MLPClassifier(hidden=(32,), epochs=50, random_state=0)), X, y,
        param_name="mlpclassifier__l2", param_range=l2s, cv=StratifiedKFold(3, shuffle=True, random_state=0),
    )
    assert train.shape == test.shape == (3, 3)
    assert train[0].mean() > 0.85
    # λ = 1 shrinks every weight to about zero: one class everywhere, chance accuracy.
    assert train[2].mean() < train[0].mean() - 0.2
    assert test[2].mean() == pytest.approx(0.5, abs=0.05)


def test_grid_search_over_l2_and_lr_picks_and_refits(noisy_moons):
    X, y = noisy_moons
    grid = {"mlpclassifier__l2": [0.0, 1e-3, 1.0], "mlpclassifier__lr": [0.01, 0.05]}
    search = GridSearchCV(_scaled(MLPClassifier(epochs=50, random_state=0)), grid, cv=3).fit(X, y)
    assert len(search.cv_results_["params"]) == 6
    assert search.best_params_["mlpclassifier__l2"] in (0.0, 1e-3)  # never the collapsing λ = 1
    assert search.best_score_ > 0.85
    best = search.best_estimator_[-1]
    assert (best.l2, best.lr) == (search.best_params_["mlpclassifier__l2"], search.best_params_["mlpclassifier__lr"])
    assert best.n_features_in_ == 2  # refitted on all of X
    assert search.score(X, y) > 0.85


# ---- regression -----------------------------------------------------------------------------


def _scaled_regressor(**params):
    return TransformedTargetRegressor(_scaled(MLPRegressor(random_state=0, **params)), transformer=StandardScaler())


def test_regressor_fits_make_regression_with_scaled_targets():
    X, y = make_regression(400, n_features=8, n_informative=5, noise=10, random_state=0)
    X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0)
    model = _scaled_regressor().fit(X_train, y_train)
    assert model.predict(X_test).shape == y_test.shape
    assert model.score(X_test, y_test) > 0.95


def test_regressor_with_l2_on_diabetes():
    X, y = load_diabetes(return_X_y=True)
    scores = cross_val_score(_scaled_regressor(l2=1e-2), X, y, cv=5)
    assert scores.mean() > 0.4  # ordinary least squares reaches about 0.48


@pytest.mark.parametrize("columns", [None, 1, 3])
def test_predictions_have_the_shape_of_y(columns):
    """y of shape (n,) predicts (n,); y of shape (n, k) predicts (n, k), k = 1 included."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 4))
    targets = np.column_stack([X[:, 0] - X[:, 1], X[:, 2], 0.5 * X[:, 3]])
    y = targets[:, 0] if columns is None else targets[:, :columns]
    reg = MLPRegressor(random_state=0).fit(X, y)
    assert reg.predict(X).shape == y.shape
    assert reg.n_outputs_ == (columns or 1)
    assert reg.score(X, y) > 0.9


# ---- errors users meet --------------------------------------------------------------------


def test_divergence_raises_a_value_error_suggesting_a_smaller_lr():
    X, y = make_regression(100, n_features=5, noise=10, random_state=0)  # raw targets, std about 100
    with pytest.raises(ValueError, match=r"diverged.*smaller lr \(now 0.01, e.g. lr=0.001\).*TransformedTargetRegressor"):
        MLPRegressor(random_state=0, standardize=False).fit(StandardScaler().fit_transform(X), y)


def test_a_last_step_that_overflows_the_weights_is_caught():
    """One full-batch step: its loss is finite, only the weights it leaves are not."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(20, 3))
    with pytest.raises(ValueError, match="diverged in epoch 1 .a weight became NaN or infinite"):
        MLPRegressor(lr=1e305, epochs=1, batch_size=20, random_state=0, standardize=False).fit(X, 1e6 * X[:, 0])


@pytest.mark.parametrize("params, name", [
    ({"hidden": "16"}, "hidden"),
    ({"hidden": (16, 0)}, "hidden"),
    ({"activation": "gelu"}, "activation"),
    ({"l2": -1.0}, "l2"),
    ({"lr": -0.1}, "lr"),
    ({"momentum": 1.0}, "momentum"),
    ({"epochs": 0}, "epochs"),
    ({"batch_size": 2.5}, "batch_size"),
    ({"dtype": "int32"}, "dtype"),
])
def test_bad_hyper_parameters_are_named_in_fit(params, name):
    X, y = make_moons(20, random_state=0)
    clf = MLPClassifier(**params)  # __init__ only stores, as scikit-learn requires
    with pytest.raises(ValueError, match=name):
        clf.fit(X, y)


@pytest.mark.parametrize("name", ["digits", "wine", "breast_cancer", "diabetes"])
def test_on_raw_data_the_defaults_come_within_a_few_points_of_scikit_learns(name):
    """3-fold cross-validation on unscaled data, both libraries with their defaults."""
    import warnings

    from sklearn import datasets
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.model_selection import cross_val_score
    from sklearn.neural_network import MLPClassifier as SkClassifier
    from sklearn.neural_network import MLPRegressor as SkRegressor

    X, y = getattr(datasets, f"load_{name}")(return_X_y=True)
    regression = name == "diabetes"
    ours = (MLPRegressor if regression else MLPClassifier)(random_state=0)
    theirs = (SkRegressor if regression else SkClassifier)(random_state=0, max_iter=1000)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        reference = cross_val_score(theirs, X, y, cv=3).mean()
    score = cross_val_score(ours, X, y, cv=3).mean()
    assert score >= reference - 0.05, (score, reference)
    assert score > (0.4 if regression else 0.85)  # far from chance, or from predicting one constant


@pytest.mark.parametrize("name, hint", [
    ("hidden_layer_sizes", "hidden_layer_sizes -> hidden"),
    ("alpha", "alpha -> l2 (alpha = l2 * batch_size)"),
    ("learning_rate_init", "learning_rate_init -> lr"),
    ("max_iter", "max_iter -> epochs"),
])
def test_scikit_learn_parameter_names_are_mapped_in_the_error(name, hint):
    with pytest.raises(TypeError, match=re.escape(hint)):
        MLPClassifier(**{name: 1})
    with pytest.raises(ValueError, match=re.escape(hint)):
        MLPRegressor().set_params(**{name: 1})
