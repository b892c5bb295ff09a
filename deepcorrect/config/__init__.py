"""Typed, frozen configuration for every experiment knob, and the named profiles.

A profile is one :class:`Profile` (:mod:`.schema`); :mod:`.profiles` holds the named ones; notebooks and the
CLI take flat ``key=value`` overrides (``width=0.5``, ``epochs=3``) that :func:`resolve` (:mod:`.overrides`)
maps onto the nested fields, rejecting unknown keys with the valid ones.
"""

from .overrides import is_override_key, override_keys, parse_assignments, parse_value, resolve
from .profiles import PROFILES, alexnet_profile, named_profile
from .schema import (CorrectConfig, DataConfig, EvalConfig, ModelConfig, Profile, RankingConfig, RestoreConfig,
                     TrainConfig, TransferConfig, result_fields)

__all__ = ["PROFILES", "CorrectConfig", "DataConfig", "EvalConfig", "ModelConfig", "Profile", "RankingConfig",
           "RestoreConfig", "TrainConfig", "TransferConfig", "alexnet_profile", "is_override_key", "named_profile",
           "override_keys", "parse_assignments", "parse_value", "resolve", "result_fields"]
