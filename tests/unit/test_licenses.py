"""Licence expressions judged against allow and deny lists."""

from __future__ import annotations

import pytest

from trainguard.licenses import LicenceVerdict, judge_licence

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
