"""bench/paper_scale_cifar.py: its command line and the stages it plans (the run itself is tried by hand)."""

import importlib.util
import sys

import pytest

from conftest import REPO


@pytest.fixture(scope="module")
def script():
    spec = importlib.util.spec_from_file_location("paper_scale_cifar", REPO / "bench" / "paper_scale_cifar.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclass resolves its annotations through sys.modules
    spec.loader.exec_module(module)
    yield module
    del sys.modules[spec.name]


def _plan(script, *argv):
    return script.make_plan(script.parser().parse_args(list(argv)))


def test_the_default_plan_is_the_papers_cifar_run(script):
    plan = _plan(script)
    c = plan.profile.correct
    assert plan.profile.name == "cifar100" and (c.correct_epochs, c.correct_batch_size) == (40, 250)
    assert (c.correct_train_per_class, c.correct_test_per_class) == (0, 0)  # every training and test image
    assert plan.profile.rank.kinds == ("blur", "awgn") and plan.kinds == ("blur", "awgn")
    assert plan.models == ("Finetune-1", "Finetune-3", "Finetune-6", "Finetune-9", "Deepcorr-1", "Deepcorr-3",
                           "Deepcorr-6", "Deepcorr-1c", "Deepcorr-3c", "Deepcorr-6c")  # 20 trained: 10 per kind
    stages = plan.stages()
    assert stages[:3] == ["data", "baseline", "ranking"] and len(stages) == 3 + 2 * 11
    assert stages[3:5] == ["blur Baseline", "blur Finetune-1"] and stages[-1] == "awgn Deepcorr-6c"


def test_tiny_is_the_smoke_profile_at_a_toy_size_on_the_cpu(script):
    plan = _plan(script, "--tiny", "--set", "correct_batch_size=10")
    cfg = plan.profile
    assert (cfg.name, cfg.device, cfg.train.epochs, cfg.correct.correct_epochs) == ("smoke", "cpu", 1, 1)
    assert (cfg.data.train_per_class, cfg.rank.levels, cfg.correct.correct_batch_size) == (6, (3,), 10)  # --set wins
    assert len(plan.stages()) == 25


def test_a_pretrained_resnet_gets_its_own_full_finetune_and_other_families_are_refused(script):
    assert "Finetune-20" in _plan(script, "--profile", "resnet20-cifar10").models
    with pytest.raises(ValueError, match="not CIFAR-style"):
        _plan(script, "--profile", "imagenette")
    with pytest.raises(SystemExit) as exit_:
        script.parser().parse_args(["--help"])
    assert exit_.value.code == 0
