import numpy as np
from support.latency import synthetic_keys, synthetic_table

from latency.predict.cache import cache_path, load_predictor
from latency.predict.predictor import Predictor, predict_keys
from latency.predict.table import LatencyTable


def test_a_fit_is_cached_and_reused(tmp_path, monkeypatch):
    monkeypatch.setenv("DESIGNER_CACHE_DIR", str(tmp_path / "cache"))
    profile = tmp_path / "synth.json"
    synthetic_table().save(profile)
    keys = synthetic_keys()[:50]
    fitted = load_predictor(profile)
    assert cache_path(profile).is_file()
    again = load_predictor(profile)
    assert again is not fitted
    np.testing.assert_array_equal(predict_keys(again, keys), predict_keys(fitted, keys))
    fresh = Predictor(LatencyTable.load(profile))
    np.testing.assert_array_equal(predict_keys(again, keys), predict_keys(fresh, keys))


def test_an_edited_profile_or_a_broken_cache_file_is_fitted_again(tmp_path, monkeypatch):
    monkeypatch.setenv("DESIGNER_CACHE_DIR", str(tmp_path / "cache"))
    profile = tmp_path / "synth.json"
    synthetic_table(batch=8).save(profile)
    first = cache_path(profile)
    load_predictor(profile)
    synthetic_table(batch=16).save(profile)
    assert cache_path(profile) != first
    assert load_predictor(profile).batch == 16
    cache_path(profile).write_bytes(b"not a pickle")
    assert load_predictor(profile).batch == 16
