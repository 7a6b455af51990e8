"""GET /metrics: Prometheus text, read back with prometheus_client's own parser."""

from __future__ import annotations

from flask.testing import FlaskClient
from prometheus_client.parser import text_string_to_metric_families

from app import metrics
from app.jobs.embedded import drain
from tests.conftest import load_fixture
from tests.jobs.helpers import items


def scrape(client: FlaskClient) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.mimetype == "text/plain"
    samples = {}
    for family in text_string_to_metric_families(response.get_data(as_text=True)):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def value(samples: dict, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def test_renders_count_per_type_and_channel_with_their_durations(client: FlaskClient) -> None:
    before = scrape(client)
    assert client.post("/v1/render", json=load_fixture("invoice/capsules-nl")).status_code == 201
    after = scrape(client)
    for channel in ("email", "web", "pdf", "sms"):
        labels = {"type": "invoice", "channel": channel}
        assert value(after, "touchpoint_channel_renders_total", **labels) == \
            value(before, "touchpoint_channel_renders_total", **labels) + 1
        assert value(after, "touchpoint_channel_render_seconds_count", **labels) == \
            value(before, "touchpoint_channel_render_seconds_count", **labels) + 1
        assert value(after, "touchpoint_channel_render_seconds_sum", **labels) > \
            value(before, "touchpoint_channel_render_seconds_sum", **labels)
    assert value(after, "touchpoint_channel_renders_total", type="invoice", channel="ics") == \
        value(before, "touchpoint_channel_renders_total", type="invoice", channel="ics")


def test_a_refused_render_counts_as_a_failure(client: FlaskClient) -> None:
    before = scrape(client)
    client.post("/v1/render", json={"type": "invoice", "brand": "demo-coffee", "data": {}})
    after = scrape(client)
    labels = {"source": "api", "reason": "invalid-request"}
    assert value(after, "touchpoint_render_failures_total", **labels) == \
        value(before, "touchpoint_render_failures_total", **labels) + 1


def test_the_queue_depth_and_job_items_as_they_go(client: FlaskClient) -> None:
    answer = client.post("/v1/jobs", json={"items": items(3, invalid=(1,))}).json
    queued = scrape(client)
    assert value(queued, "touchpoint_job_queue_depth", state="queued") == 3  # validated as they render
    assert value(queued, "touchpoint_job_queue_depth", state="running") == 0
    assert value(queued, "touchpoint_jobs_unfinished", kind="batch", status="queued") == 1

    drain(client.application)
    assert client.get(f"/v1/jobs/{answer['id']}").json["status"] == "done"
    after = scrape(client)
    assert value(after, "touchpoint_job_queue_depth", state="queued") == 0
    assert value(after, "touchpoint_jobs_unfinished", kind="batch", status="queued") == 0
    assert value(after, "touchpoint_job_items_finished_total", kind="batch", outcome="done") == \
        value(queued, "touchpoint_job_items_finished_total", kind="batch", outcome="done") + 2
    assert value(after, "touchpoint_job_items_finished_total", kind="batch", outcome="failed") == \
        value(queued, "touchpoint_job_items_finished_total", kind="batch", outcome="failed") + 1
    assert value(after, "touchpoint_render_failures_total", source="job", reason="invalid-request") == \
        value(queued, "touchpoint_render_failures_total", source="job", reason="invalid-request") + 1
    assert value(after, "touchpoint_channel_renders_total", type="invoice", channel="sms") == \
        value(queued, "touchpoint_channel_renders_total", type="invoice", channel="sms") + 2


def test_a_pool_process_hands_its_measures_back_instead_of_recording_them() -> None:
    """What a pool process measures travels back with its outcome; one process records it."""
    before = metrics.CHANNEL_RENDERS.labels("bill", "sms")._value.get()
    with metrics.collecting() as kept:
        metrics.channel_rendered("bill", "sms", 0.01)
    assert kept == [("channel", ("bill", "sms"), 0.01)]
    assert metrics.CHANNEL_RENDERS.labels("bill", "sms")._value.get() == before
    metrics.record(kept)
    assert metrics.CHANNEL_RENDERS.labels("bill", "sms")._value.get() == before + 1
