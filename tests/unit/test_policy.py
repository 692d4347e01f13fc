"""The policy: defaults with clauses, value overrides, and rejection of bad keys and values."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from trainguard.exceptions import PolicyError
from trainguard.policy import load_policy

if TYPE_CHECKING:
    from pathlib import Path

pytestmark = pytest.mark.unit


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "policy.yaml"
    path.write_text(text)
    return path


def test_defaults_carry_standard_numbers_and_clauses() -> None:
    """The defaults hold standards.md's numbers, each with its clause and certainty."""
    policy = load_policy()
    assert policy.harmful.max_rate == 0.05
    assert policy.harmful.sample_size == 4000
    assert policy.corpus.manual_pass_rate == 0.96
    assert policy.corpus.automated_pass_rate == 0.98
    assert policy.violations.fix_deadline_days == 90
    assert policy.clause("harmful.max_rate") == "Art. 7; TC260-003 5.1 a"
    assert policy.info["harmful.sample_size"].certainty == "U"
    assert all(info.clause for _, _, info in policy.rows())


def test_override_changes_value_and_keeps_clause(tmp_path: Path) -> None:
    """A user file changes a value (scalar or {value}) and the clause stays the default's."""
    policy = load_policy(
        write(tmp_path, "harmful:\n  max_rate: 0.03\ncorpus: {manual_sample_size: {value: 5000}}\n")
    )
    assert policy.harmful.max_rate == 0.03
    assert policy.corpus.manual_sample_size == 5000
    assert policy.clause("harmful.max_rate") == "Art. 7; TC260-003 5.1 a"
    assert policy.digest != load_policy().digest


def test_unknown_key_is_named(tmp_path: Path) -> None:
    """A misspelt key is rejected with its dotted name and the known keys."""
    with pytest.raises(PolicyError, match=r"unknown policy key 'harmful\.max_rat'.*max_rate"):
        load_policy(write(tmp_path, "harmful:\n  max_rat: 0.03\n"))


def test_unknown_section_is_named(tmp_path: Path) -> None:
    """An unknown section is rejected with its name."""
    with pytest.raises(PolicyError, match=r"unknown policy section 'harmfull'"):
        load_policy(write(tmp_path, "harmfull:\n  max_rate: 0.03\n"))


def test_out_of_range_value_is_named(tmp_path: Path) -> None:
    """A rate above 1 is rejected, naming the key and the value given."""
    with pytest.raises(
        PolicyError,
        match=r"'harmful\.max_rate': Input should be less than 1 "
        r"\(got 1\.5\)",
    ):
        load_policy(write(tmp_path, "harmful:\n  max_rate: 1.5\n"))


def test_clause_cannot_be_overridden(tmp_path: Path) -> None:
    """Clauses belong to the defaults; a user file that tries to change one is refused."""
    with pytest.raises(PolicyError, match=r"clauses are fixed"):
        load_policy(write(tmp_path, "harmful:\n  max_rate: {value: 0.04, clause: none}\n"))


def test_unknown_licence_in_lists_is_rejected(tmp_path: Path) -> None:
    """An allow list naming a non-SPDX licence is refused with the key named."""
    with pytest.raises(PolicyError, match=r"'licenses\.allow' names unknown licence\(s\) Foo-9"):
        load_policy(write(tmp_path, "licenses:\n  allow: [MIT, Foo-9]\n"))


def test_malformed_yaml_is_reported_with_position(tmp_path: Path) -> None:
    """Broken YAML in a policy file gives its line."""
    with pytest.raises(PolicyError, match=r"policy\.yaml, row \d+: malformed YAML"):
        load_policy(write(tmp_path, "harmful:\n  max_rate: [0.03\n"))


def test_a_policy_that_is_not_utf8_is_a_policy_error(tmp_path: Path) -> None:
    """Issue 18: a GBK-encoded policy gave a UnicodeDecodeError traceback."""
    path = tmp_path / "policy.yaml"
    path.write_bytes("harmful:\n  # 有害内容阈值\n  max_rate_per_source: 0.01\n".encode("gbk"))
    with pytest.raises(PolicyError, match=r"policy\.yaml: not UTF-8 text"):
        load_policy(path)
