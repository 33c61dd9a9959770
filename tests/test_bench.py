"""The benchmark's own parts: its synthetic data says what it claims, and its
command line refuses bad input. The figures themselves are read from the report
(`.ci/run` runs `kiosk-bench --quick`), never asserted here."""

from __future__ import annotations

import numpy as np
import pytest

from bench import synthetic
from bench.__main__ import parse_arguments
from bench.stats import summarize
from storage.vector_index import DEFAULT_INDEX, HnswParameters, Precision


@pytest.mark.parametrize("generator", synthetic.GENERATORS)
def test_genuine_queries_score_as_documented_against_their_template(generator: str) -> None:
    gallery = synthetic.gallery(2000, generator)
    asked = synthetic.queries(gallery, 300, 50, generator)
    similarity = np.sum(asked.genuine * gallery[asked.sources], axis=1)
    low, high = synthetic.GENUINE_SIMILARITY
    assert (low + high) / 2 - 0.02 < similarity.mean() < (low + high) / 2 + 0.02
    # The noise's own projection on the template blurs the edges a little.
    assert low - 0.03 < np.percentile(similarity, 5)
    assert np.percentile(similarity, 95) < high + 0.03
    assert np.allclose(np.linalg.norm(asked.genuine, axis=1), 1.0, atol=1e-4)
    assert np.allclose(np.linalg.norm(asked.impostor, axis=1), 1.0, atol=1e-4)


def test_face_like_impostors_score_like_buffalo_sc_and_uniform_ones_do_not() -> None:
    mean, spread = synthetic.impostor_similarity(synthetic.gallery(4000, "face-like"))
    assert 0.05 < mean < 0.09
    assert 0.06 < spread < 0.10
    mean, spread = synthetic.impostor_similarity(synthetic.gallery(4000, "uniform"))
    assert abs(mean) < 0.01
    assert spread < 0.05


def test_the_same_seed_gives_the_same_gallery() -> None:
    assert np.array_equal(synthetic.gallery(10, "face-like"), synthetic.gallery(10, "face-like"))
    with pytest.raises(ValueError, match="expected one of"):
        synthetic.gallery(10, "gaussian")


def test_percentiles() -> None:
    latency = summarize([float(n) for n in range(1, 101)])
    assert latency.count == 100
    assert latency.p50_ms == pytest.approx(50.5)
    assert latency.p99_ms == pytest.approx(99.01)
    assert summarize([]).count == 0


def test_command_line_reads_indexes_and_sizes() -> None:
    args = parse_arguments(["--sizes", "500,2000", "--index", "halfvec:24:96", "--quick"])
    assert args.sizes == [500, 2000]
    assert args.indexes == [HnswParameters(Precision.HALF, 24, 96)]


def test_every_run_compares_the_kiosks_index_with_a_vector_one() -> None:
    full = parse_arguments([]).indexes
    assert full == [
        HnswParameters(precision, DEFAULT_INDEX.m, DEFAULT_INDEX.ef_construction)
        for precision in Precision
    ]
    quick = parse_arguments(["--quick"]).indexes
    assert DEFAULT_INDEX in quick
    assert [p.precision for p in quick] == [Precision.SINGLE, Precision.HALF]


@pytest.mark.parametrize(
    "argv",
    [
        ["--index", "float:16:64"],
        ["--index", "halfvec:16"],
        ["--index", "halfvec:16:8"],
        ["--sizes", "ten"],
        ["--sizes", "0"],
        ["--only", "search,speed"],
    ],
)
def test_command_line_refuses_bad_values(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as stopped:
        parse_arguments(argv)
    assert stopped.value.code == 2
    assert "kiosk-bench: error:" in capsys.readouterr().err
