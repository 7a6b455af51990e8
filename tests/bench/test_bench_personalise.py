"""The personalisation benchmark runs as documented (bench/personalise.py): its customer is
stored through the API with a key, its archive is rendered, and the engine chooses among the
500 offers. Its figures are printed for people, never asserted here."""

from __future__ import annotations

from bench import personalise


def test_the_personalisation_benchmark_runs_and_says_what_it_chose() -> None:
    result = personalise.run(repeat=2)
    assert (result["offers"], result["purchases"]) == (500, 1000)
    assert result["blocks"] and all(block["offer"].startswith("offer-") for block in result["blocks"])
    assert result["suppressed"] == result["offers"] - len(result["blocks"])
    assert set(result["ms"]) == {"decide", "personalise", "archive lookup"}
    assert all(figures["cpu_best"] > 0 for figures in result["ms"].values())
