"""What one GPU call brings back: the most needed files first, in parts a call can return."""

import io
import json
import tarfile

from recommender.vision.gpu_session import _keep_tail, _wanted, collect_results


def test_results_come_back_in_parts_most_needed_first_and_the_rest_is_named(tmp_path):
    # given three files in priority order: 3 kB, 5 kB, 4 kB
    files = []
    for name, size in (("summary.json", 3_000), ("encoder.pt", 5_000), ("checkpoint.pt", 4_000)):
        (tmp_path / name).write_bytes(name.encode().ljust(size, b"."))
        files.append((tmp_path / name, f"encoder/{name}"))

    # when they are collected with 4 kB parts and an 11 kB budget
    report = collect_results(files, tmp_path / "out", part_bytes=4_000, budget=11_000)

    # then the first two came in parts of at most 4 kB, which join into a tar, and the third is named
    parts = sorted((tmp_path / "out").glob("results.tar.part-*"))
    assert [p.name for p in parts] == report["parts"] and len(parts) >= 2
    assert all(p.stat().st_size <= 4_000 for p in parts)
    with tarfile.open(fileobj=io.BytesIO(b"".join(p.read_bytes() for p in parts))) as archive:
        assert archive.getnames() == ["encoder/summary.json", "encoder/encoder.pt"]
        assert archive.extractfile("encoder/encoder.pt").read() == (tmp_path / "encoder.pt").read_bytes()
    assert report["left_out"] == [{"name": "encoder/checkpoint.pt", "bytes": 4_000}]
    assert json.loads((tmp_path / "out" / "collected.json").read_text()) == report
    assert not (tmp_path / "out" / "results.tar").exists()


def test_the_encoders_weights_come_before_the_detectors_checkpoint_and_its_own_checkpoint_last(tmp_path):
    # given the two trainings' folders as their entry points leave them
    run = tmp_path / "detector" / "runs" / "seg-v001"
    (run / "weights").mkdir(parents=True)
    (tmp_path / "encoder").mkdir()
    for path in (run / "weights" / "last.pt", run / "results.csv", tmp_path / "encoder" / "encoder.pt"):
        path.write_text("x")
    for name in ("summary.json", "checkpoint.pt", "best.pt"):
        (tmp_path / "encoder" / name).write_text("x")

    # when
    order = [str(p.relative_to(tmp_path)) for p in _wanted(tmp_path / "detector", tmp_path / "encoder")]

    # then
    assert order == [
        "encoder/summary.json",
        "detector/runs/seg-v001/results.csv",
        "encoder/encoder.pt",
        "detector/runs/seg-v001/weights/last.pt",
        "encoder/best.pt",
        "encoder/checkpoint.pt",
    ]


def test_a_long_log_keeps_its_end(tmp_path):
    # given a 1 MB log; when it is cut to 1 kB
    log = tmp_path / "detector.log"
    log.write_text("".join(f"line {i}\n" for i in range(100_000)))

    _keep_tail(log, 1_000)

    # then its end is kept, marked as cut
    text = log.read_text()
    assert text.startswith("[... earlier lines cut") and text.endswith("line 99999\n")
    assert len(text.encode()) < 1_100
