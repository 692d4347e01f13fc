"""Licence expressions judged against allow and deny lists."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from trainguard.licenses import LicenceVerdict, judge_licence

if TYPE_CHECKING:
    from pathlib import Path

pytestmark = pytest.mark.unit

ALLOW = ["MIT", "Apache-2.0", "CC-BY-4.0", "LicenseRef-ours"]
DENY = ["GPL-3.0-only"]


@pytest.mark.parametrize(
    ("expression", "commercial", "verdict"),
    [
        ("MIT", True, LicenceVerdict.ALLOWED),
        ("mit", True, LicenceVerdict.ALLOWED),  # SPDX ids are case-insensitive
        ("MIT AND Apache-2.0", True, LicenceVerdict.ALLOWED),
        ("MIT AND GPL-3.0-only", True, LicenceVerdict.DENIED),  # AND: every part must pass
        ("GPL-3.0-only OR MIT", True, LicenceVerdict.ALLOWED),  # OR: one branch suffices
        ("CC-BY-NC-4.0", True, LicenceVerdict.DENIED),  # non-commercial, commercial service
        ("CC-BY-NC-4.0", False, LicenceVerdict.UNKNOWN),  # not denied, but not allowed either
        ("BSD-3-Clause", True, LicenceVerdict.UNKNOWN),
        ("LicenseRef-ours", True, LicenceVerdict.ALLOWED),
        ("Apache-2.0 WITH LLVM-exception", True, LicenceVerdict.ALLOWED),
    ],
)
def test_verdicts(expression: str, commercial: bool, verdict: LicenceVerdict) -> None:
    """Each expression gets the verdict the AND/OR/deny/NC rules give."""
    judged = judge_licence(expression, allow=ALLOW, deny=DENY, commercial=commercial)
    assert judged.verdict is verdict


def test_judgement_names_the_denied_part() -> None:
    """The judgement lists which licence of an expression was denied."""
    judged = judge_licence("MIT AND GPL-3.0-only", allow=ALLOW, deny=DENY, commercial=True)
    assert judged.denied == ("GPL-3.0-only",)


# (expression, verdict under the default policy of a commercial service). Written from the
# SPDX list and the LicenseDB categories, not from any demo data.
DEFAULT_POLICY_CASES = [
    # The thirteen commonly used commercially that used to fail as "on neither list".
    ("ISC", LicenceVerdict.ALLOWED),  # Permissive
    ("MPL-2.0", LicenceVerdict.ALLOWED),  # Copyleft Limited
    ("Artistic-2.0", LicenceVerdict.ALLOWED),  # Copyleft Limited
    ("AFL-3.0", LicenceVerdict.ALLOWED),  # Permissive
    ("EPL-1.0", LicenceVerdict.ALLOWED),  # Copyleft Limited
    ("LGPL-3.0-only", LicenceVerdict.ALLOWED),  # Copyleft Limited
    ("GPL-3.0-only", LicenceVerdict.ALLOWED),  # Copyleft
    ("CC-BY-3.0", LicenceVerdict.ALLOWED),  # Permissive
    ("CC-BY-SA-3.0", LicenceVerdict.ALLOWED),  # Copyleft Limited
    ("CDLA-Permissive-1.0", LicenceVerdict.ALLOWED),  # Permissive
    ("CDLA-Permissive-2.0", LicenceVerdict.ALLOWED),  # Permissive
    ("CDLA-Sharing-1.0", LicenceVerdict.ALLOWED),  # Copyleft Limited
    ("OGL-UK-3.0", LicenceVerdict.ALLOWED),  # Permissive
    # On the allow list, and public domain dedications.
    ("MIT", LicenceVerdict.ALLOWED),
    ("CC0-1.0", LicenceVerdict.ALLOWED),
    ("Unlicense", LicenceVerdict.ALLOWED),  # Public Domain
    ("CC-PDDC", LicenceVerdict.ALLOWED),  # Public Domain
    ("AGPL-3.0-only", LicenceVerdict.ALLOWED),  # Copyleft
    # Non-commercial and no-derivatives terms, every Creative Commons variant.
    ("CC-BY-NC-4.0", LicenceVerdict.DENIED),
    ("CC-BY-NC-SA-4.0", LicenceVerdict.DENIED),
    ("CC-BY-NC-ND-4.0", LicenceVerdict.DENIED),
    ("CC-BY-ND-4.0", LicenceVerdict.DENIED),
    ("CC-BY-NC-3.0", LicenceVerdict.DENIED),  # not on the deny list: NC terms
    ("CC-BY-ND-3.0", LicenceVerdict.DENIED),  # not on the deny list: ND terms
    ("CC-BY-NC-SA-2.0", LicenceVerdict.DENIED),
    # Source-available and other restricted classes: a reviewer decides.
    ("SSPL-1.0", LicenceVerdict.UNKNOWN),
    ("BUSL-1.1", LicenceVerdict.UNKNOWN),
    ("Elastic-2.0", LicenceVerdict.UNKNOWN),
    # LicenseRef: the policy's own lists, or a reviewer.
    ("LicenseRef-trainguard-commercial-contract", LicenceVerdict.ALLOWED),
    ("LicenseRef-trainguard-no-ai-training", LicenceVerdict.DENIED),
    ("LicenseRef-acme-eula", LicenceVerdict.UNKNOWN),
    # WITH exceptions and compound expressions.
    ("GPL-2.0-or-later WITH Classpath-exception-2.0", LicenceVerdict.ALLOWED),
    ("Apache-2.0 WITH LLVM-exception", LicenceVerdict.ALLOWED),
    ("MIT AND CC-BY-NC-4.0", LicenceVerdict.DENIED),  # AND: every part
    ("MIT OR CC-BY-NC-4.0", LicenceVerdict.ALLOWED),  # OR: one branch
    ("(ISC OR SSPL-1.0) AND CC-BY-SA-3.0", LicenceVerdict.ALLOWED),
    ("SSPL-1.0 AND MIT", LicenceVerdict.UNKNOWN),
    ("CC-BY-ND-4.0 OR LicenseRef-acme-eula", LicenceVerdict.UNKNOWN),
]


@pytest.mark.parametrize(("expression", "verdict"), DEFAULT_POLICY_CASES)
def test_default_policy_judges_by_lists_terms_and_class(
    expression: str, verdict: LicenceVerdict
) -> None:
    """The default policy of a commercial service: lists first, NC/ND terms, then class."""
    from trainguard.policy import load_policy

    licences = load_policy().licenses
    judged = judge_licence(
        expression,
        allow=licences.allow,
        deny=licences.deny,
        commercial=True,
        allow_classes=licences.allow_classes,
        deny_classes=licences.deny_classes,
    )
    assert judged.verdict is verdict, judged


def test_lists_override_a_class() -> None:
    """A licence on the deny list is refused though its class is allowed, and the reverse."""
    denied = judge_licence(
        "GPL-3.0-only",
        allow=[],
        deny=["GPL-3.0-only"],
        commercial=True,
        allow_classes=["Copyleft"],
    )
    allowed = judge_licence(
        "SSPL-1.0",
        allow=["SSPL-1.0"],
        deny=[],
        commercial=True,
        deny_classes=["Source-available"],
    )
    assert denied.verdict is LicenceVerdict.DENIED
    assert allowed.verdict is LicenceVerdict.ALLOWED


def test_a_denied_class_refuses_its_licences() -> None:
    """deny_classes refuses a licence of that class that no list names."""
    judged = judge_licence(
        "BUSL-1.1", allow=[], deny=[], commercial=True, deny_classes=["Source-available"]
    )
    assert judged.verdict is LicenceVerdict.DENIED and judged.class_of("BUSL-1.1") == (
        "Source-available"
    )


def test_an_unknown_class_in_the_policy_is_refused(tmp_path: Path) -> None:
    """A misspelt class in the policy is a policy error naming the valid classes."""
    from trainguard.exceptions import PolicyError
    from trainguard.policy import load_policy

    path = tmp_path / "policy.yaml"
    path.write_text("licenses:\n  allow_classes: [Permisive]\n", encoding="utf-8")
    with pytest.raises(PolicyError, match="unknown licence class"):
        load_policy(path)
