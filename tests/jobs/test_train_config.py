"""Training settings: noise schedules, cut timing, validation and the JSON record."""

import dataclasses
import json

import pytest

from rmt_gui.jobs.config import (
    PAPER_KEEP_NOISE,
    ConfigError,
    NoiseSchedule,
    PruneConfig,
    SnapshotPolicy,
    TrainConfig,
    parse_dims,
)
from rmt_gui.model.rule import PruneRule, RuleError


def test_schedules_parse_and_evaluate() -> None:
    assert NoiseSchedule.parse("0.45").at(7, 10) == 0.45
    linear = NoiseSchedule.parse("linear:0.2:0.6")
    assert [round(linear.at(e, 5), 6) for e in range(1, 6)] == [0.2, 0.3, 0.4, 0.5, 0.6]
    listed = NoiseSchedule.parse("0.1,0.2,0.3")
    assert [listed.at(e, 5) for e in range(1, 6)] == [0.1, 0.2, 0.3, 0.3, 0.3]
    for text in ("0.45", "linear:0.2:0.6", "0.1,0.2,0.3"):
        assert NoiseSchedule.parse(text).describe() == text


@pytest.mark.parametrize("text", ["abc", "linear:0.2", "1.5", "0.1,,0.2", "linear:0.1:2"])
def test_bad_schedules_are_refused(text: str) -> None:
    with pytest.raises(ConfigError):
        NoiseSchedule.parse(text)


def test_cut_timing() -> None:
    assert sorted(PruneConfig().cut_steps(10, 30)) == [0, 10, 20]
    assert sorted(PruneConfig(first_cut="end").cut_steps(10, 30)) == [10, 20]
    assert sorted(PruneConfig(every_epochs=2).cut_steps(10, 50)) == [0, 20, 40]
    assert sorted(PruneConfig(every_steps=4, first_cut="end").cut_steps(10, 20)) == [4, 8, 12, 16]


@pytest.mark.parametrize(
    ("config", "message"),
    [
        (TrainConfig(epochs=0), "epochs"),
        (TrainConfig(dims=(784, 10, 3)), "784 to 10"),
        (TrainConfig(dims=(784,)), "two positive"),
        (TrainConfig(lr=-1.0), "learning rate"),
        (TrainConfig(momentum=1.0), "momentum"),
        (TrainConfig(batch_size=0), "batch size"),
        (TrainConfig(limit_train=0), "limit-train"),
    ],
)
def test_validation_names_the_setting(config: TrainConfig, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        config.validate()


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"every_epochs": 0}, "prune-every must be at least 1 epoch"),
        ({"every_steps": 0}, "prune-every-steps must be at least 1"),
        ({"variant": "best"}, "unknown pruning variant 'best'"),
        ({"first_cut": "middle"}, "first cut must be 'start' or 'end'"),
    ],
)
def test_pruning_schedule_is_checked_when_built(options: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        PruneConfig.from_options(**options)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"fit_threshold": 0.0}, r"--fit-threshold must be a positive number, got 0"),
        ({"alpha": 0.6}, r"--alpha must be in \[0, 0.5\), got 0.6"),
        ({"beta": float("nan")}, r"--beta must be in \(0, 1\), got nan"),
        ({"shrink_factor": float("inf")}, r"--shrink-factor must be in \[0, 1\], got inf"),
        ({"min_rank": 0}, "--min-rank must be at least 1, got 0"),
    ],
)
def test_the_cut_rule_is_checked_when_built(options: dict, message: str) -> None:
    with pytest.raises(RuleError, match=message):
        PruneConfig.from_options(**options)


def test_only_bema_and_shrink_rules_cut_during_training() -> None:
    with pytest.raises(ConfigError, match="training cuts by BEMA or shrink, not 'rank'"):
        PruneConfig(rule=PruneRule("rank", rank=3))
    with pytest.raises(ConfigError, match="random variant"):
        PruneConfig(rule=PruneRule("shrink"), random_subset=True)


@pytest.mark.parametrize("variant", ["keep", "truncate", "shrink", "random"])
def test_variants_map_to_one_rule_and_back(variant: str) -> None:
    schedule = NoiseSchedule.parse("linear:0.2:0.6")
    config = PruneConfig.from_options(variant=variant, keep_noise=schedule, min_rank=7, seed=3)
    assert config.variant == variant
    assert config.rule.method == ("shrink" if variant == "shrink" else "bema")
    assert (config.rule.factorize == "if_smaller") == (variant in ("keep", "random"))
    assert config.random_subset == (variant == "random")
    assert config.keep_noise == schedule and config.rule.min_rank == 7
    record = json.loads(json.dumps(config.to_json()))
    assert PruneConfig.from_json(record) == config


def test_paper_defaults_are_the_trainers_and_prune_defaults_are_plain() -> None:
    paper = PruneConfig().rule
    assert paper.keep_noise == PAPER_KEEP_NOISE == PruneRule().keep_noise
    assert paper.factorize == "if_smaller" and paper.skip_poor_fit
    assert PruneRule().factorize == "never" and not PruneRule().skip_poor_fit
    assert PruneConfig().keep_noise == NoiseSchedule("constant", (PAPER_KEEP_NOISE,))
    assert PruneConfig().rule_at(0.2) == dataclasses.replace(paper, keep_noise=0.2)


def test_unreadable_json_settings_are_a_config_error() -> None:
    record = {**PruneConfig().to_json(), "colour": "blue"}
    with pytest.raises(ConfigError, match="unreadable pruning settings"):
        PruneConfig.from_json(record)


def test_snapshot_policy_validation() -> None:
    assert not SnapshotPolicy().periodic
    assert SnapshotPolicy(max_per_second=5).periodic
    with pytest.raises(ConfigError):
        SnapshotPolicy(every_steps=0).validate()
    with pytest.raises(ConfigError):
        SnapshotPolicy(max_per_second=0).validate()


def test_config_is_json() -> None:
    record = json.loads(json.dumps(TrainConfig().to_json()))
    assert record["dims"] == [784, 1000, 10]
    assert record["prune"]["keep_noise"] == "0.45"
    assert record["lr"] == 0.08 and record["momentum"] == 0.9 and record["batch_size"] == 128
    assert TrainConfig(prune=None).to_json()["prune"] is None


def test_schedule_from_options_prefers_the_text() -> None:
    assert NoiseSchedule.from_options("linear:0.2:0.6", 0.45) == NoiseSchedule("linear", (0.2, 0.6))
    assert NoiseSchedule.from_options("  ", 0.3) == NoiseSchedule("constant", (0.3,))
    assert NoiseSchedule.from_options(None, 0.45).at(3, 10) == 0.45


def test_dims_parse_or_name_the_option() -> None:
    assert parse_dims("784, 1000,10", "--dims") == (784, 1000, 10)
    with pytest.raises(ConfigError, match="--dims needs comma-separated integers, got '784,x'"):
        parse_dims("784,x", "--dims")
