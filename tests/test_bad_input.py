"""Bad input: one `error:` line naming the setting or file and what would be right, exit status 2, nothing left
behind; and cached results that follow the data they were computed from."""

import os
import re
import signal
import subprocess
import sys
import tarfile
import warnings

import numpy as np
import pytest
import torch
from conftest import REPO
from PIL import Image
from torch import nn

from deepcorrect import corrected_models
from deepcorrect.baseline import baseline_model
from deepcorrect.book import notebook_sources
from deepcorrect.cli import main
from deepcorrect.config import resolve
from deepcorrect.context import Run
from deepcorrect.correction import deepcorrect_model
from deepcorrect.data import TensorData, load_dataset
from deepcorrect.data.folders import _decode
from deepcorrect.distortions import distort, distort_per_image
from deepcorrect.files import atomic_write
from deepcorrect.models import AllConvBN, load_weights
from deepcorrect.parameters import refuse_unknown_parameters
from deepcorrect.ranking import rank_filters
from deepcorrect.sections import distortion_effects
from deepcorrect.splits import datasets
from deepcorrect.store import Store


def run_cli(*args, cwd=REPO):
    return subprocess.run([sys.executable, "-m", "deepcorrect", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=300)


def _tree(root, classes=("cat", "dog"), per_class=4, seed=0):
    rng = np.random.default_rng(seed)
    for split in ("train", "test"):
        for cls in classes:
            (root / split / cls).mkdir(parents=True, exist_ok=True)
            for i in range(per_class):
                Image.fromarray(rng.integers(0, 255, (32, 32, 3), dtype=np.uint8)).save(root / split / cls / f"{i}.png")
    return root


def _folder_profile(root, cache_dir, **kw):
    return resolve("smoke", source="folder", root=str(root), cache_dir=str(cache_dir), train_per_class=0,
                   test_per_class=0, val_per_class=0, width=0.125, epochs=1, **kw)


def test_tables_are_recomputed_when_the_images_under_the_same_path_change(tmp_path, cache_dir):
    root = _tree(tmp_path / "data")
    store = Store(tmp_path / "results")
    tables = []
    for seed in (0, 1):
        if seed:  # the same file names, other pictures
            for f in root.rglob("*.png"):
                f.unlink()
            _tree(root, seed=seed)
        cfg = _folder_profile(root, cache_dir)
        data = datasets(cfg)
        run = Run.of(cfg, store)
        model, _ = baseline_model(run, data.train, progress=False)
        tables.append(distortion_effects.baseline_tables(run, model, data.test))
    assert len(list((tmp_path / "results" / "baseline").iterdir())) == 2
    assert len(list((tmp_path / "results" / "baseline_tables").iterdir())) == 2


def test_an_empty_training_split_is_refused_before_anything_runs(tmp_path):
    with pytest.raises(ValueError, match="val_per_class=50 holds out every training image|val_per_class \\(50\\)"):
        resolve("smoke", epochs=1, train_per_class=50)
    out = run_cli("baseline", "--profile", "smoke", "-p", "epochs=1", "-p", "train_per_class=50",
                  "--results", str(tmp_path / "r"))
    assert out.returncode == 2 and out.stderr.startswith("error: train_per_class=50: val_per_class (50)")
    assert "Traceback" not in out.stderr and not (tmp_path / "r").exists()


def test_a_class_with_too_few_images_for_validation_is_refused(tmp_path, cache_dir):
    cfg = resolve("smoke", source="folder", root=str(_tree(tmp_path / "d", per_class=2)), cache_dir=str(cache_dir),
                  train_per_class=0, test_per_class=0, val_per_class=2)
    with pytest.raises(ValueError, match="holds out every training image of some class .* lower val_per_class"):
        datasets(cfg)


def test_a_truncated_archive_is_refused_and_leaves_nothing(tmp_path, cache_dir):
    tree = _tree(tmp_path / "tree", per_class=30)
    archive = tmp_path / "data.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(tree, arcname="tree")
    archive.write_bytes(archive.read_bytes()[: archive.stat().st_size // 2])
    cfg = resolve("smoke", source="folder", root=str(archive), cache_dir=str(cache_dir), train_per_class=0,
                  test_per_class=0, val_per_class=0)
    for _ in range(2):  # a retry fails the same way and leaves nothing either
        with pytest.raises(ValueError, match="truncated or corrupt .* complete copy"):
            load_dataset(cfg.data)
        assert list((cache_dir / "data").iterdir()) == []


def test_a_stale_partial_extraction_of_a_killed_run_is_removed(tmp_path, cache_dir):
    tree = _tree(tmp_path / "tree")
    archive = tmp_path / "data.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(tree, arcname="tree")
    from deepcorrect.keys import fingerprint

    stale = cache_dir / "data" / f".{fingerprint(archive)[7:23]}.tmp999999999"
    stale.mkdir(parents=True)
    cfg = resolve("smoke", source="folder", root=str(archive), cache_dir=str(cache_dir), train_per_class=0,
                  test_per_class=0, val_per_class=0)
    load_dataset(cfg.data)
    assert [p.name for p in (cache_dir / "data").iterdir()] == [fingerprint(archive)[7:23]]


def test_an_unreadable_image_is_skipped_with_a_warning_and_many_are_refused(tmp_path, cache_dir):
    root = _tree(tmp_path / "d", per_class=60)
    (root / "train" / "cat" / "broken.jpg").write_text("not a JPEG")
    cfg = _folder_profile(root, cache_dir)
    with pytest.warns(UserWarning, match="skipped 1 unreadable image file\\(s\\) of 121 .*broken.jpg"):
        train, _ = load_dataset(cfg.data)
    assert len(train) == 120
    for i in range(5):
        (root / "test" / "dog" / f"junk{i}.jpg").write_bytes(b"\x00" * 10)
    with pytest.raises(ValueError, match="5 of 125 image files .* cannot be decoded .* replace it"):
        load_dataset(cfg.data)


def test_out_in_a_missing_folder_fails_before_any_work(tmp_path):
    out = run_cli("rank", "--out", str(tmp_path / "no" / "ranking.csv"), "--results", str(tmp_path / "r"))
    assert out.returncode == 2 and "the folder" in out.stderr and "does not exist" in out.stderr
    assert not (tmp_path / "r").exists()
    out = run_cli("correct", "--out", str(tmp_path / "no" / "t.csv"), "--results", str(tmp_path / "r"))
    assert out.returncode == 2 and "does not exist" in out.stderr and "Traceback" not in out.stderr


def test_a_results_folder_that_cannot_be_written_is_one_error_line(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("a file where the results folder should go")
    out = run_cli("baseline", "--results", str(blocker / "results"))
    assert out.returncode == 2 and out.stderr.count("\n") == 1
    assert "results folder" in out.stderr and "is a file, not a folder" in out.stderr


def test_a_one_class_dataset_is_refused(tmp_path, cache_dir):
    cfg = _folder_profile(_tree(tmp_path / "d", classes=("cat",)), cache_dir)
    with pytest.raises(ValueError, match="1 class\\(es\\) \\(cat\\); classifying needs at least two"):
        datasets(cfg)


def test_library_calls_refuse_nonsense():
    flat = nn.Sequential(nn.Flatten(), nn.Linear(3 * 8 * 8, 10))
    data = TensorData(torch.zeros(4, 3, 8, 8, dtype=torch.uint8), torch.tensor([0, 1, 0, 1]), ("a", "b"))
    with pytest.raises(ValueError, match="has no nn.Conv2d layer"):
        rank_filters(flat, data, "cifar", progress=False)
    net = AllConvBN(10, width=0.125)
    for bad in (-1, 10, 1.5):
        with pytest.raises(ValueError, match="train_last must be an integer in 0..9"):
            deepcorrect_model(net, {"conv1": [0, 1]}, train_last=bad)


@pytest.mark.parametrize("key,value,message", [
    ("eval_batch_size", "0", "eval_batch_size=0: batch_size must be an integer ≥ 1"),
    ("momentum", "-1", "momentum=-1: momentum must be in [0, 1)"),
    ("weight_decay", "-0.1", "weight_decay=-0.1: weight_decay must be ≥ 0"),
    ("lr_gamma", "2", "lr_gamma=2: lr_gamma must be in (0, 1]"),
])
def test_settings_are_validated_up_front(key, value, message):
    with pytest.raises(ValueError) as err:
        resolve("smoke", **{key: value})
    assert str(err.value).startswith(message)


def test_a_failed_computation_leaves_no_empty_folder_even_in_a_new_results_folder(tmp_path):
    store = Store(tmp_path / "new" / "results")

    def fail(_folder):
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        store.get("baseline", {"x": 1}, fail)
    assert list(tmp_path.iterdir()) == []  # not even the results folder the store would have made

    def fail_after_checkpoint(folder):
        (folder / "checkpoint.pt").write_bytes(b"epoch 1")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        store.get("baseline", {"x": 1}, fail_after_checkpoint)
    assert [p.name for p in store.folder("baseline", {"x": 1}).iterdir()] == ["checkpoint.pt"]  # kept: resume
    existing = tmp_path / "mine"
    existing.mkdir()
    with pytest.raises(RuntimeError, match="boom"):
        Store(existing).get("ranking", {"x": 1}, fail)
    assert existing.is_dir() and list(existing.iterdir()) == []  # a folder the user made stays


def test_a_terminated_computation_leaves_no_empty_folder(tmp_path):
    """SIGTERM during a computation (as during `rank` or the t-SNE) ends the process through its clean-up."""
    script = ("import sys, time; from deepcorrect.runtime import exit_cleanly_on_sigterm; "
              "from deepcorrect.store import Store; exit_cleanly_on_sigterm(); "
              "Store(sys.argv[1]).get('ranking', {'x': 1}, lambda f: print('ready', flush=True) or time.sleep(60))")
    proc = subprocess.Popen([sys.executable, "-c", script, str(tmp_path / "results")], cwd=REPO,
                            stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "ready"
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 143
    finally:
        proc.kill()
        proc.stdout.close()
    assert list(tmp_path.iterdir()) == []


def _colour_tree(root, colours):
    """train/ and test/ of one solid colour per class folder (2 images each), every file with the same time."""
    for split in ("train", "test"):
        for name, colour in colours.items():
            (root / split / name).mkdir(parents=True, exist_ok=True)
            for i in range(2):
                Image.fromarray(np.full((32, 32, 3), colour, dtype=np.uint8)).save(root / split / name / f"{i}.png")
    for f in root.rglob("*.png"):
        os.utime(f, ns=(1_600_000_000 * 10**9,) * 2)  # as a tar extraction leaves them: one mtime for all
    return root


def test_swapped_class_folders_or_an_image_replaced_in_place_are_never_served_from_the_cache(tmp_path, cache_dir):
    from deepcorrect.keys import fingerprint

    red, green, blue = (255, 0, 0), (0, 255, 0), (0, 0, 255)
    root = _colour_tree(tmp_path / "d", {"a": red, "b": green})
    cfg = _folder_profile(root, cache_dir).data

    def colour_of_class(label):
        train, _ = load_dataset(cfg)
        return {tuple(img[:, 0, 0].tolist()) for img in train.images[train.labels == label]}

    assert colour_of_class(0) == {red}
    before = fingerprint(root)
    for split in ("train", "test"):  # mv a t; mv b a; mv t b: the same names and sizes, other pictures
        folder = root / split
        (folder / "a").rename(folder / "t")
        (folder / "b").rename(folder / "a")
        (folder / "t").rename(folder / "b")
    assert colour_of_class(0) == {green} and colour_of_class(1) == {red}
    assert fingerprint(root) != before  # so artifacts trained on the old pixels are not reused either
    picture = root / "train" / "a" / "0.png"
    size, times = picture.stat().st_size, picture.stat()
    Image.fromarray(np.full((32, 32, 3), blue, dtype=np.uint8)).save(picture)  # in place, the time put back
    os.utime(picture, ns=(times.st_atime_ns, times.st_mtime_ns))
    assert picture.stat().st_size == size
    assert colour_of_class(0) == {green, blue}


def test_a_checkpoint_with_a_flipped_byte_is_discarded_and_training_ends_as_an_uninterrupted_run(tmp_path):
    from deepcorrect.config import TrainConfig
    from deepcorrect.data import make_embedded
    from deepcorrect.data.embedded import CLASSES
    from deepcorrect.train import fit

    cfg = TrainConfig(epochs=3, batch_size=32, lr=0.05, seed=1)
    data = TensorData(*make_embedded(8, seed=0), CLASSES)

    def model():
        torch.manual_seed(0)
        return AllConvBN(num_classes=10, width=0.125)

    reference = model()
    fit(reference, data, cfg, progress=False)

    def stop_after_epoch_2(epoch, _row):
        if epoch == 2:
            raise KeyboardInterrupt

    ckpt = tmp_path / "checkpoint.pt"
    with pytest.raises(KeyboardInterrupt):
        fit(model(), data, cfg, checkpoint=ckpt, progress=False, on_epoch_end=stop_after_epoch_2)
    raw = bytearray(ckpt.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    ckpt.write_bytes(bytes(raw))
    resumed = model()
    with pytest.warns(UserWarning, match=f"discarding checkpoint {ckpt}: its bytes do not match .* starts over"):
        history = fit(resumed, data, cfg, checkpoint=ckpt, progress=False)
    assert [row["epoch"] for row in history] == [1, 2, 3]
    for (name, a), b in zip(reference.state_dict().items(), resumed.state_dict().values()):
        assert torch.equal(a, b), name


def test_a_damaged_decoded_image_cache_is_discarded_with_a_warning(tmp_path, cache_dir):
    cfg = _folder_profile(_colour_tree(tmp_path / "d", {"a": (255, 0, 0), "b": (0, 255, 0)}), cache_dir).data
    first, _ = load_dataset(cfg)
    for cached in (cache_dir / "tensors").glob("*.pt"):
        raw = bytearray(cached.read_bytes())
        raw[len(raw) // 2] ^= 0xFF
        cached.write_bytes(bytes(raw))
    with pytest.warns(UserWarning, match="discarding decoded-image cache .*: its bytes do not match"):
        again, _ = load_dataset(cfg)
    assert torch.equal(first.images, again.images) and torch.equal(first.labels, again.labels)


def test_no_warning_for_a_clean_folder(tmp_path, cache_dir):
    cfg = _folder_profile(_tree(tmp_path / "d"), cache_dir)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        load_dataset(cfg.data)
    assert os.listdir(tmp_path / "d") == ["train", "test"] or sorted(os.listdir(tmp_path / "d")) == ["test", "train"]


# ------------------------------------------------------------------------------------------------------------
# Round 3: every item ends in one `error:` (or `warning:`) line, exit status 2, nothing written.

TINY = ["-p", "epochs=1", "-p", "train_per_class=20", "-p", "test_per_class=5", "-p", "val_per_class=3", "-p",
        "width=0.125", "-p", "per_class=2", "-p", "levels=1,6"]


def _refused(capsys, tmp_path, *args) -> str:
    """The one `error:` line of a command refused before any work (nothing in its results folder)."""
    results = tmp_path / "results"
    code = main([*args, "--results", str(results)])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("error:") and err.count("\n") == 1, err
    assert "Traceback" not in err and not results.exists()
    return err


@pytest.mark.slow
def test_a_model_whose_training_diverged_has_a_row_saying_so_and_alone_fails_the_run(tmp_path, capsys,
                                                                                    monkeypatch):
    def diverge(*_args, **_kw):
        raise FloatingPointError("training loss became nan in epoch 1; lower lr (now 0.1) or check the data")

    monkeypatch.setattr(corrected_models, "train_corrected", diverge)
    out_csv = tmp_path / "t.csv"
    code = main(["correct", "--model", "Deepcorr-1", "--kind", "blur", *TINY, "--results", str(tmp_path / "r"),
                 "--out", str(out_csv)])
    captured = capsys.readouterr()
    lines = captured.err.splitlines()
    assert code == 2 and not out_csv.exists()
    assert lines[0].startswith("warning: Deepcorr-1 (blur) has no measurement: diverged: training loss became nan "
                               "in epoch 1")
    assert lines[-1].startswith("error: none of the requested models (Deepcorr-1) could be measured")
    row = next(line for line in captured.out.splitlines() if line.startswith("Deepcorr-1 "))
    assert "diverged: training loss became nan in epoch 1" in row


def test_train_and_test_splits_with_other_class_names_are_refused(tmp_path, cache_dir):
    root = _tree(tmp_path / "d", classes=("a", "b"))
    for extra in ("c",):
        (root / "test" / "a").rename(root / "test" / extra)
    with pytest.raises(ValueError, match=r"hold different classes: train a, b; test b, c"):
        load_dataset(_folder_profile(root, cache_dir).data)


def test_a_16_bit_png_is_scaled_to_8_bits_not_clipped_to_white(tmp_path):
    grey = np.full((32, 32), 32896, dtype=np.uint16)  # mid grey: 128 × 257
    Image.fromarray(grey).save(tmp_path / "g.png")
    img = _decode(tmp_path / "g.png", 32)
    assert img.dtype == torch.uint8 and img.shape == (3, 32, 32) and bool((img == 128).all())


@pytest.mark.parametrize("make", ["empty", "loop"])
def test_an_empty_or_looping_class_folder_is_named_not_made_a_class(tmp_path, cache_dir, make):
    root = _tree(tmp_path / "d", per_class=6)
    if make == "empty":
        (root / "train" / "empty").mkdir()
    else:
        (root / "train" / "loop").symlink_to(root / "train", target_is_directory=True)
    cfg = resolve("smoke", source="folder", root=str(root), cache_dir=str(cache_dir), train_per_class=0,
                  test_per_class=0, val_per_class=2)
    with pytest.raises(ValueError, match=f"class folder .*train/{make}[^/]* holds no image files"):
        datasets(cfg)


def test_weights_with_a_nan_are_refused_naming_the_tensor(tmp_path):
    state = AllConvBN(10, width=0.125).state_dict()
    state["conv3.weight"][0, 0, 0, 0] = float("nan")
    torch.save(state, tmp_path / "w.pt")
    with pytest.raises(ValueError, match=r"w.pt: tensor 'conv3.weight' holds 1 NaN or infinite value"):
        load_weights(AllConvBN(10, width=0.125), tmp_path / "w.pt")


@pytest.mark.parametrize("saved,message", [
    ([1, 2], "holds a list, not a state dict"),
    (torch.zeros(3), "holds a Tensor, not a state dict"),
    ("text", "is not a torch.save file"),
    ("wide", "tensor 'conv1.weight' has shape (24, 3, 3, 3) in the file, the network needs (12, 3, 3, 3)"),
])
def test_weights_that_are_no_fitting_state_dict_are_one_error_line(tmp_path, capsys, saved, message):
    path = tmp_path / "w.pt"
    if saved == "text":
        path.write_text("not a weights file\n")
    else:
        torch.save(AllConvBN(10, width=0.25).state_dict() if saved == "wide" else saved, path)
    err = _refused(capsys, tmp_path, "baseline", *TINY, "-p", f"model_weights={path}")
    assert message in err and "weights_only" not in err


@pytest.mark.parametrize("args,message", [
    (["baseline", "-p", "lr=inf"], "lr=inf: lr must be a finite number in (0, 1e+06]"),
    (["baseline", "-p", "lr=1e20"], "lr=1e20: lr must be a finite number in (0, 1e+06]"),
    (["correct", "-p", "deepcorr_lr=nan"], "deepcorr_lr must be a finite number"),
    (["rank", "-p", "kinds="], "kinds must name at least one distortion to rank for (blur, awgn"),
    (["correct", "--model", "ranked.0", *TINY], "ranked.0: the first ranked layer conv1 has 12 filters; name 1..12"),
    (["finetune", "-p", "layers=conv99", *TINY], "unknown layer 'conv99'"),
    (["correct", "-p", "kinds=awgn", "--kind", "blur", *TINY], "ranking covers only kinds=awgn, not blur; add them "
                                                              "(-p kinds=awgn,blur) or drop them from --kind"),
    (["baseline", "-p", "device=tpu"], "device must be cpu, cuda or auto"),
    (["baseline", "-p", "width=0.25", "-p", "model_width=0.5"], "width=0.25 and model_width=0.5 both set "
                                                                "model.width; give it once"),
    (["baseline", "-p", "epochs=0"], "epochs=0 trains nothing and no model_weights are given"),
])
def test_settings_refused_up_front_with_one_line(args, message, tmp_path, capsys):
    assert message in _refused(capsys, tmp_path, *args)


def test_an_invalid_kind_is_one_line_listing_the_valid_ones(tmp_path):
    out = run_cli("correct", "--kind", "noise", "--results", str(tmp_path / "r"))
    assert out.returncode == 2 and out.stderr.count("\n") == 1 and "usage:" not in out.stderr
    assert out.stderr.startswith("error: argument --kind: unknown kind 'noise'; expected one of blur, awgn, "
                                 "gaussian_noise")


@pytest.mark.parametrize("command", ["rank", "correct"])
def test_out_naming_a_folder_is_refused_with_the_users_path(tmp_path, capsys, command):
    folder = tmp_path / "tables.csv"
    folder.mkdir()
    err = _refused(capsys, tmp_path, command, "--out", str(folder))
    assert f"--out '{folder}' is a folder; name a file in it" in err and ".tmp" not in err


def test_a_very_large_learning_rate_is_one_warning_line(capsys):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        cfg = resolve("smoke", lr="1e6")
    assert cfg.train.lr == 1e6
    assert [str(w.message) for w in caught] == ["lr=1e+06 is far above the usual learning rates (≤ 1; the paper's: "
                                                "0.01-0.1): training will likely diverge or learn nothing"]


def test_a_tgz_that_is_not_gzip_and_unsafe_members_are_one_line_each(tmp_path, cache_dir):
    bad = tmp_path / "data.tgz"
    bad.write_text("not an archive")
    with pytest.raises(ValueError, match=r"^archive .*data.tgz is not a tar archive[^\n]*$"):
        load_dataset(resolve("smoke", source="folder", root=str(bad), cache_dir=str(cache_dir)).data)
    for name, kind in (("tree/../../escape.txt", tarfile.REGTYPE), ("tree/link", tarfile.SYMTYPE)):
        archive = tmp_path / f"{kind!r}.tar.gz"
        with tarfile.open(archive, "w:gz") as tar:
            info = tarfile.TarInfo(name)
            info.type, info.linkname = kind, "/etc/passwd"
            tar.addfile(info)
        cfg = resolve("smoke", source="folder", root=str(archive), cache_dir=str(cache_dir))
        with pytest.raises(ValueError, match=f"holds an unsafe member '{re.escape(name)}'") as err:
            load_dataset(cfg.data)
        assert "truncated or corrupt" not in str(err.value)
    assert not (tmp_path / "escape.txt").exists() and list((cache_dir / "data").iterdir()) == []


def test_a_full_disk_is_one_line_naming_the_folder(tmp_path):
    def torch_save(_tmp):  # torch's zip writer on a full disk: "[enforce fail …] unexpected pos"
        torch.save({"w": torch.zeros(100_000)}, "/dev/full")

    def write(_tmp):
        with open("/dev/full", "wb") as fh:
            fh.write(b"x" * 1_000_000)

    if not os.path.exists("/dev/full"):
        pytest.skip("no /dev/full here")
    for writer in (torch_save, write):
        with pytest.raises(OSError) as err:
            atomic_write(tmp_path / "out" / "payload.pt", writer)
        assert str(err.value).startswith(f"no space left on the device holding {tmp_path / 'out'}")
        assert list((tmp_path / "out").iterdir()) == []


def test_an_unknown_papermill_parameter_is_refused_by_the_notebook():
    history = ["", "from deepcorrect.config import resolve", 'profile = "smoke"  # p\nwidth = None  # w\n',
               "# Parameters\nprofile = \"smoke\"\nwidht = 0.5\n", "refuse_unknown_parameters(globals())"]
    with pytest.raises(ValueError, match="unknown notebook parameter\\(s\\) widht; valid: profile, width"):
        refuse_unknown_parameters({"In": history})
    refuse_unknown_parameters({"In": history[:3] + ["# Parameters\nwidth = 0.5\n"]})  # known: no error
    refuse_unknown_parameters({})  # run by hand, without papermill
    for src in notebook_sources(REPO):  # every notebook checks, in the cell right after its parameters
        text = src.read_text()
        after = text[text.index('tags=["parameters"'):].split("\n# %%\n", 1)[1]
        assert after.startswith("refuse_unknown_parameters(globals())"), src


def test_library_calls_refuse_wrong_scales_levels_and_indices():
    batch = torch.rand(2, 3, 8, 8)
    with pytest.warns(UserWarning, match="the images all lie in \\[0, 1\\], but distortions work on the 0–255"):
        distort(batch, "awgn", 1)
    for level in (-1, 7):
        with pytest.raises(ValueError, match="levels must be integers in 0..6"):
            distort_per_image(batch * 255, "blur", torch.tensor([level, 0]))
    assert torch.equal(distort(batch * 255, "blur", np.int64(3)), distort(batch * 255, "blur", 3))
    with pytest.raises(ValueError, match="filter indices for layer 'conv1' must be integers, got \\[1.7\\]"):
        deepcorrect_model(AllConvBN(10, width=0.125), {"conv1": [1.7]})
