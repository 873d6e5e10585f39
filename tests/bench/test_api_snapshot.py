"""bench/api_snapshot.py's normalising and comparing (the recording itself is run by hand)."""

from __future__ import annotations

import json

from bench.api_snapshot import compare, normalise


def snapshot_file(tmp_path, name: str, responses: list[dict]):
    path = tmp_path / name
    path.write_text(json.dumps({"commit": name, "responses": responses}))
    return path


def test_volatile_values_are_normalised_and_the_rest_kept():
    # given an answer with timings, dates, a stored file name and a SKU made of a photo's UUID
    body = {
        "timings_ms": {"decode": 3.14159, "total": 40.2},
        "created_at": "2026-11-28T09:13:42.123456Z",
        "primary_image_url": "/media/products/55/0f1e2d3c4b5a69788796a5b4c3d2e1f0.img",
        "sku": "CS-00003aeb-ace5-43bf-9a0c-dc31a03e9cd2",
        "similarity": 0.91705612345,
        "results": [{"score": 1.0000000004}],
    }

    # when
    normalised = normalise(body)

    # then
    assert normalised == {
        "timings_ms": {"decode": "<ms>", "total": "<ms>"},
        "created_at": "<datetime>",
        "primary_image_url": "/media/products/55/<uuid>.img",
        "sku": "CS-00003aeb-ace5-43bf-9a0c-dc31a03e9cd2",
        "similarity": 0.917056,
        "results": [{"score": 1.0}],
    }


def test_equal_snapshots_compare_equal(tmp_path, capsys):
    # given
    responses = [{"name": "similar", "status": 200, "body": {"results": [{"id": 1}]}}]
    first, second = snapshot_file(tmp_path, "a", responses), snapshot_file(tmp_path, "b", responses)

    # when / then
    assert compare(first, second) == 0
    assert "identical: 1 responses" in capsys.readouterr().out


def test_a_changed_body_a_changed_status_and_a_missing_request_are_reported(tmp_path, capsys):
    # given
    before = [
        {"name": "similar", "status": 200, "body": {"results": [{"id": 1}, {"id": 2}]}},
        {"name": "schema", "status": 200, "body": {}},
        {"name": "error", "status": 400, "body": {}},
    ]
    after = [
        {"name": "similar", "status": 200, "body": {"results": [{"id": 2}, {"id": 1}]}},
        {"name": "error", "status": 500, "body": {}},
    ]

    # when
    code = compare(snapshot_file(tmp_path, "a", before), snapshot_file(tmp_path, "b", after))

    # then
    out = capsys.readouterr().out
    assert code == 1
    assert "- schema: only in A" in out
    assert ".body.results[0].id: A 1 != B 2" in out
    assert ".status: A 400 != B 500" in out
    assert "3 response(s) differ" in out
