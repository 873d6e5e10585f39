"""Encoder v2's GPU pack and its entry point, run on CPU: a tiny pack, then training from it alone,
in a Python that cannot import what a lent GPU machine lacks (Django, Celery, the package fashionrec)."""

import io
import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import numpy as np
import pytest
import torch
from django.conf import settings
from django.core.management import CommandError, call_command

from recommender.vision.detector_data import is_ccp_holdout
from recommender.vision.encoder import load_encoder
from recommender.vision.encoder_data import build_encoder_data
from recommender.vision.encoder_gpu import epochs_for_budget, load_pack_data, pack_encoder_data

REPO = Path(settings.BASE_DIR)
SIZE = 32
# the first 35 catalog photos (round robin over folders) are the fewest with one in the selection split
LIMIT = 35
# Runs the entry point where these cannot be imported, as on the GPU machine.
WITHOUT_DJANGO = """
import importlib.abc, sys
class Absent(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {"django", "celery", "fashionrec", "pillow_heif", "rest_framework"}:
            raise ImportError(name + " is not on a lent GPU machine")
sys.meta_path.insert(0, Absent())
from recommender.vision.encoder_gpu import main
sys.exit(main(sys.argv[1:]))
"""


@pytest.fixture(scope="module")
def pack(tmp_path_factory):
    # given the samples of 35 catalog photos and of the garments of 35 street photos, packed for a 32 px encoder
    root = tmp_path_factory.mktemp("encoder-gpu")
    call_command(
        "pack_encoder_gpu", output=root / "pack", cache="none", image_size=SIZE, limit=LIMIT, max_total_mib=10_000
    )
    return root / "pack"


def _exact():
    return build_encoder_data(
        Path(settings.FASHIONREC_DATASET),
        Path(settings.FASHIONREC_CCP_DATASET),
        aug_size=round(SIZE * 8 / 7),
        eval_size=SIZE,
        limit=LIMIT,
    )


def test_the_pack_holds_the_recipes_samples_compactly_and_no_report_split(pack):
    # when the pack is read back
    data, manifest = load_pack_data(pack, image_size=SIZE)
    exact = _exact()

    # then it holds the very samples the CPU recipe decodes, labels and splits unchanged
    assert data.names == exact.names
    for field in ("inner", "kinds", "categories", "worn", "selection"):
        assert np.array_equal(getattr(data, field), getattr(exact, field)), field
    assert data.selection.any() and (~data.selection).any()
    assert manifest["samples"]["selection_worn"] == int((exact.selection & exact.worn).sum())
    # images within WebP's loss, derived inference views close to the exact crops, masks nearly equal
    assert data.aug.shape == exact.aug.shape and data.eval.shape == exact.eval.shape
    assert np.abs(data.aug.astype(int) - exact.aug).mean() < 8
    assert np.abs(data.eval.astype(int) - exact.eval).mean() < 12
    assert (data.masks == exact.masks).mean() > 0.9
    # never a report-split photo: no CCP number divisible by 7, nothing from validation/
    photos = {int(name.split("/")[1]) for name in data.names if name.startswith("ccp/")}
    assert photos and not any(is_ccp_holdout(number) for number in photos)
    assert all(name.startswith(("flat/", "ccp/")) for name in data.names)
    # compact: the encoded folder is a fraction of the decoded arrays
    stored = sum(p.stat().st_size for p in (pack / "encoder").iterdir())
    assert stored < 0.25 * (exact.aug.nbytes + exact.masks.nbytes + exact.eval.nbytes)


def test_the_same_samples_packed_again_keep_their_digest_and_a_damaged_pack_is_refused(pack, tmp_path):
    # given the pack's manifest; when the same samples are packed again elsewhere
    manifest = json.loads((pack / "encoder" / "encoder.json").read_text())
    again = pack_encoder_data(tmp_path / "again", _exact(), image_size=SIZE)

    # then a checkpoint trained on one resumes on the other (same digest)
    assert again["samples_sha256"] == manifest["samples_sha256"]

    # and a pack whose samples no longer match its manifest is refused
    (tmp_path / "again" / "encoder" / "encoder.json").write_text(json.dumps({**again, "samples_sha256": "0" * 64}))
    with pytest.raises(ValueError, match="pack it again"):
        load_pack_data(tmp_path / "again", image_size=SIZE)


def test_a_pack_that_would_not_travel_is_refused_and_only_its_own_part_removed(tmp_path):
    # given a pack folder holding the detector's part
    output = tmp_path / "pack"
    output.mkdir()
    (output / "pack.json").write_text("{}")

    # when the encoder part would take the checkout past a 1 MiB limit
    with pytest.raises(CommandError, match="exceed its limit"):
        call_command("pack_encoder_gpu", output=output, cache="none", image_size=SIZE, limit=2, max_total_mib=1)

    # then nothing half-written is left and the detector's part is untouched
    assert not (output / "encoder").exists()
    assert (output / "pack.json").read_text() == "{}"


def _run(pack, out, *arguments):
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    env["FASHIONREC_NO_PROGRESS"] = "1"
    command = [sys.executable, "-c", WITHOUT_DJANGO, "--pack", str(pack), "--out", str(out), "--device", "cpu"]
    command += ["--widths", "8,16,32,64", "--image-size", str(SIZE), "--batch-size", "8", "--threads", "1"]
    done = subprocess.run([*command, *arguments], cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return json.loads((out / "summary.json").read_text())


def test_the_entry_point_trains_from_the_pack_alone_stops_at_its_budget_and_resumes(pack, tmp_path):
    # when it runs with a budget that stops it after the first of 2 epochs, then resumes that checkpoint
    first = _run(pack, tmp_path / "first", "--epochs", "2", "--eval-every", "1", "--minutes", "0")
    first_weights = torch.load(tmp_path / "first" / "encoder.pt", weights_only=True)
    second = _run(pack, tmp_path / "second", "--resume", str(tmp_path / "first" / "checkpoint.pt"), "--minutes", "10")

    # then the first left loadable weights of epoch 1 with its selection figures, and a resumable checkpoint
    assert (first["finished"], first["epochs_done"], first["epochs"]) == (False, 1, 2)
    assert (tmp_path / "first" / "checkpoint.pt").exists()
    assert json.loads(first_weights["card"]["selection"]) == first["selection"]
    for name in ("catalog_p10", "street_p10", "street_p10_kinds", "score"):
        assert 0.0 <= first["selection"][name] <= 1.0
    assert not first["django_imported"]
    # and the second continued it (the schedule from the checkpoint) to the end: the recipe's own outputs
    assert (second["finished"], second["epochs_done"], second["epochs"]) == (True, 2, 2)
    assert not (tmp_path / "second" / "checkpoint.pt").exists()
    metrics = json.loads((tmp_path / "second" / "metrics.json").read_text())
    assert [row["epoch"] for row in metrics["history"]] == [1, 2]
    assert metrics["history"][0] == json.loads(first_weights["card"]["history"])[0]
    encoder = load_encoder(tmp_path / "second" / "encoder.pt")
    assert encoder.version == second["version"] and encoder.input_size == SIZE
    assert encoder.calibration is not None
    assert second["settings"]["widths"] == [8, 16, 32, 64] and second["settings"]["data_digest"].startswith("gpu-pack:")
    assert "Selection split" in (tmp_path / "second" / "MODEL_CARD.md").read_text()


def test_auto_epochs_are_probed_and_sized_to_the_budget(pack, tmp_path):
    # when the number of epochs is left to the entry point, with a 3-second budget
    summary = _run(pack, tmp_path / "auto", "--minutes", "0.05")

    # then a probe of this machine sized the schedule, and it was trained to the end inside the budget
    assert summary["probed_epoch_seconds"] > 0
    assert 1 <= summary["epochs"] <= epochs_for_budget(summary["probed_epoch_seconds"], 0.05)
    assert not (tmp_path / "auto" / "probe").exists()
    assert (tmp_path / "auto" / "encoder.pt").exists()


def test_epochs_for_budget_keeps_the_schedule_inside_the_budget():
    assert epochs_for_budget(10.0, 8) == 40  # 85% of 480 s
    assert epochs_for_budget(1000.0, 8) == 1
    assert epochs_for_budget(0.01, 8) == 200


def test_the_one_call_session_rehearsed_on_cpu_brings_the_encoder_back_in_parts(pack, tmp_path):
    # given a pack with no detector part; when the session a GPU call runs is rehearsed on CPU, 3 s budget
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    out = tmp_path / "OUT"
    command = [sys.executable, "-m", "recommender.vision.gpu_session", "--out", str(out), "--pack", str(pack)]
    command += ["--work", str(tmp_path / "work"), "--minutes", "0.05", "--device", "cpu"]
    command += [f"--encoder-args=--widths 8,16,32,64 --image-size {SIZE} --batch-size 8 --threads 1"]
    done = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=600)

    # then it trained the encoder alone and left in OUT what a call returns: the log, and tar parts
    # that join into the run's summary and weights
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    report = json.loads((out / "collected.json").read_text())
    assert sorted(p.name for p in out.iterdir()) == sorted(["collected.json", "encoder.log", *report["parts"]])
    joined = b"".join((out / part).read_bytes() for part in report["parts"])
    with tarfile.open(fileobj=io.BytesIO(joined)) as archive:
        names = archive.getnames()
        summary = json.load(archive.extractfile("encoder/summary.json"))
    assert {"encoder/summary.json", "encoder/encoder.pt", "encoder/MODEL_CARD.md"} <= set(names)
    assert report["left_out"] == [] and summary["device"] == "cpu"
