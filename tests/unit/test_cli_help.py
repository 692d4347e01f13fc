"""Every verb's --help ends with examples, exit codes and the settings it reads."""

from __future__ import annotations

import argparse
from typing import Any

import pytest

from trainguard.cli.help import HELP
from trainguard.cli.main import _parser

pytestmark = pytest.mark.unit


def leaf_verbs(parser: argparse.ArgumentParser, prefix: str = "") -> dict[str, Any]:
    found = {}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                verb = f"{prefix} {name}".strip()
                nested = leaf_verbs(sub, verb)
                found |= nested or {verb: sub}
    return found


def test_every_verb_has_examples_exit_codes_and_settings() -> None:
    parser, _ = _parser()
    verbs = leaf_verbs(parser)
    assert set(verbs) == set(HELP), "add the verb to trainguard.cli.help.HELP"
    for verb, sub in verbs.items():
        text = sub.format_help()
        assert "examples:\n  trainguard" in text or "examples:\n  eval" in text, verb
        assert "exit codes: " in text and "reads: " in text, verb
