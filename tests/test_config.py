import pytest

from deepcorrect.config import PROFILES, parse_assignments, resolve


def test_profiles_resolve_and_overrides_reach_the_nested_fields():
    p = resolve("smoke", width="0.5", epochs="3", data_seed="4", train_seed=7, device="cpu", train_bf16="false")
    assert p.model.width == 0.5 and p.train.epochs == 3 and p.data.seed == 4 and p.train.seed == 7
    assert p.train.bf16 is False
    assert resolve("smoke", width=None) == PROFILES["smoke"]


def test_unknown_profile_and_parameter_name_the_valid_ones():
    with pytest.raises(ValueError, match="unknown profile 'tiny'; valid profiles: smoke, cifar10-jpg"):
        resolve("tiny")
    with pytest.raises(ValueError, match=r"unknown parameter\(s\) widht; valid: .*width"):
        resolve("smoke", widht=0.5)


@pytest.mark.parametrize("key,value,message", [
    ("width", "-1", "width must be in"),
    ("epochs", "two", "not a valid int"),
    ("train_batch_size", "0", "batch_size must be an integer ≥ 1"),
    ("source", "mnist", "source must be one of"),
    ("train_bf16", "maybe", "not a valid bool"),
])
def test_bad_values_are_clear_errors(key, value, message):
    with pytest.raises(ValueError, match=message):
        resolve("smoke", **{key: value})


def test_parse_assignments():
    assert parse_assignments(["a=1", "b = x"]) == {"a": "1", "b": "x"}
    with pytest.raises(ValueError, match="key=value"):
        parse_assignments(["novalue"])


def test_profiles_read_the_conventional_data_folder():
    """Data and weights default to data/… under the working directory; no profile names a sibling folder."""
    from dataclasses import asdict

    for name, p in PROFILES.items():
        assert "../" not in p.description and "../" not in repr(asdict(p)), name
    assert PROFILES["cifar10-jpg"].data.root == "data/cifar10-jpg.tar.gz"
    assert PROFILES["imagenette"].transfer.transfer_root == "data/caltech101-224.tar.gz"
    assert PROFILES["resnet20-cifar10"].model.weights.startswith("data/pretrained/")


def test_a_missing_data_folder_says_which_option_to_set(tmp_path):
    from deepcorrect.data.folders import resolve_tree

    with pytest.raises((FileNotFoundError, ValueError), match="data_root=.*download=true"):
        resolve_tree(str(tmp_path / "data" / "cifar10-jpg.tar.gz"), str(tmp_path / "cache"))


def test_one_parser_reads_a_field_by_its_type_and_a_notebook_parameter_as_a_literal():
    from dataclasses import fields

    from deepcorrect.config import RankingConfig, TrainConfig, parse_value

    spec = {f.name: f for f in fields(RankingConfig) + fields(TrainConfig)}
    assert parse_value("3", spec["levels"]) == (3,) and parse_value("yes", spec["bf16"]) is True
    assert parse_value("0.5") == 0.5 and parse_value("none") is None and parse_value("true") is True
    assert parse_value("1,6") == (1, 6) and parse_value("blur,awgn") == "blur,awgn"
    with pytest.raises(ValueError, match="parameter epochs='two' is not a valid int"):
        parse_value("two", spec["epochs"])
