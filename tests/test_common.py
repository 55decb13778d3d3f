"""scikit-learn's estimator checks, run over both estimators with no exceptions."""

from sklearn.utils.estimator_checks import parametrize_with_checks

from sknn_scratch import ScratchMLPClassifier, ScratchMLPRegressor


@parametrize_with_checks([ScratchMLPClassifier(), ScratchMLPRegressor()])
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)
