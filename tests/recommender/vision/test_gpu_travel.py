"""What a GPU call would send: the checkout (its detector resume checkpoints named) and the carried packs."""

import subprocess

import torch

from recommender.vision.detector_checkpoint import slim_resume_checkpoint
from recommender.vision.gpu_travel import travel_report

MIB = 2**20


def _git(repo, *args):
    subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True)


def test_the_budget_names_a_fat_checkpoint_with_what_slimming_frees_and_counts_files_as_they_are(tmp_path):
    # given a checkout with a committed resume checkpoint holding 1 MiB of moments, a 0.5 MiB file,
    # an ignored 5 MiB pack carried beside it, and an ignored file that does not travel
    repo = tmp_path / "repo"
    run = repo / "models" / "detector" / "training" / "seg-v001"
    (run / "weights").mkdir(parents=True)
    moments = {"exp_avg": torch.zeros(MIB // 8), "exp_avg_sq": torch.zeros(MIB // 8)}  # 2 x 0.5 MiB of fp32
    checkpoint = {"epoch": 3, "ema": {"w": torch.zeros(10)}, "optimizer": {"state": {0: moments}, "param_groups": []}}
    torch.save(checkpoint, run / "weights" / "last.pt")
    (repo / "code.py").write_bytes(b"x" * (MIB // 2))
    (repo / ".gitignore").write_text("/gpu-pack/\n/var/\n")
    (repo / "gpu-pack").mkdir()
    (repo / "gpu-pack" / "dataset.tar.gz").write_bytes(b"p" * 5 * MIB)
    (repo / "var").mkdir()
    (repo / "var" / "big").write_bytes(b"v" * 10 * MIB)
    _git(repo, "init", "-q")
    _git(repo, "add", "-A")

    # when the budget is read against a 6 MiB limit
    sizes, report = travel_report(repo, [repo / "gpu-pack"], limit=6 * MIB)

    # then the checkout counts the checkpoint in full, the carried pack is its own line, and it does not fit
    fat = (run / "weights" / "last.pt").stat().st_size
    assert sizes["tree"] == fat + MIB // 2 + len("/gpu-pack/\n/var/\n")
    assert sizes["total"] == sizes["tree"] + 5 * MIB
    assert "models/detector/training/seg-v001/weights/last.pt 1.0 MiB, with 1.0 MiB of AdamW moments" in report
    assert "`manage.py slim_detector_checkpoint models/detector/training/seg-v001` drops them" in report
    assert "does NOT fit: 0.5 MiB over" in report
    assert "with the checkpoints slimmed: about 5.5 MiB (fits, 0.5 MiB to spare)" in report

    # and once slimmed, the checkpoint is named slim, the total is the files' own, and a small margin is flagged
    slim_resume_checkpoint(run)
    sizes, report = travel_report(repo, [repo / "gpu-pack"], limit=6 * MIB)
    assert sizes["total"] == (run / "weights" / "last.pt").stat().st_size + MIB // 2 + 17 + 5 * MIB
    assert "slim (no optimizer moments)" in report and "with the checkpoints slimmed" not in report
    assert "fits, but with 0.5 MiB to spare, under the 4 MiB later commits need" in report
