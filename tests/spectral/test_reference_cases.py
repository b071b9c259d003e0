"""Every public reference case: BEMA in both variants and Gavish–Donoho."""

import json

import numpy as np
import pytest

from rmt_gui.spectral import analyze_matrix, bema_fit, spectrum_of
from tests.helpers.paths import CASES_DIR


def _cases() -> list[dict]:
    return json.loads((CASES_DIR / "cases.json").read_text())["cases"]


@pytest.fixture(params=_cases(), ids=lambda case: case["id"])
def case(request: pytest.FixtureRequest) -> tuple[dict, np.ndarray]:
    return request.param, np.load(CASES_DIR / request.param["file"])


@pytest.mark.parametrize(("variant", "key"), [("paper", "paper"), ("notebook", "notebook_formula")])
def test_bema_matches_reference(case: tuple[dict, np.ndarray], variant: str, key: str) -> None:
    meta, matrix = case
    ref = meta[key]
    fit = bema_fit(matrix, variant=variant)
    assert fit.n_signal == ref["n_signal"]
    assert fit.sigma2 == pytest.approx(ref["sigma2"], rel=1e-4)
    assert fit.lambda_plus == pytest.approx(ref["lambda_plus"], rel=1e-4)
    assert fit.sv_threshold == pytest.approx(ref["sv_threshold"], rel=1e-4)
    assert fit.fit_error == pytest.approx(ref["fit_error"], rel=1e-4)
    assert fit.shape == tuple(meta["shape"])


def test_gavish_donoho_matches_reference(case: tuple[dict, np.ndarray]) -> None:
    meta, matrix = case
    assert analyze_matrix("m", matrix).rank_gavish_donoho == meta["rank_gavish_donoho"]


def test_variants_differ_only_in_cutoff(case: tuple[dict, np.ndarray]) -> None:
    _, matrix = case
    spec = spectrum_of(matrix)
    paper, notebook = bema_fit(spec), bema_fit(spec, variant="notebook")
    assert paper.sigma2 == notebook.sigma2
    assert paper.fit_error == notebook.fit_error
    assert paper.lambda_plus != notebook.lambda_plus
