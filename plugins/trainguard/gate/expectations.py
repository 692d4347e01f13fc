"""trainguard's custom Great Expectations expectations.

GX looks expectations up by type name when a suite is loaded and does not keep ones it
does not know, so this module must be imported before any suite in ``expectations/`` is
read; ``trainguard.gx_gate`` does that, and checks that no expectation went missing.
Each is a named, documented specialisation of a GX built-in: the suite reads as the duty
("every source's PI is covered by consent"), GX does the checking.
"""

from __future__ import annotations

from typing import Any


def register() -> dict[str, type]:
    """Define (once) and return the custom expectation classes by GX type name."""
    global _REGISTERED
    if _REGISTERED is None:
        _REGISTERED = _define()
    return _REGISTERED


_REGISTERED: dict[str, type] | None = None


def _define() -> dict[str, type]:
    import great_expectations.expectations as gxe

    class ExpectSourcePersonalInfoCoveredByConsent(gxe.ExpectColumnValuesToBeBetween):
        """Every source's personal information is covered by consent (Art. 7(3))."""

        description: str = "Personal information only with consent (Art. 7(3))"

    class ExpectSourceHarmfulRateWithinPolicy(gxe.ExpectColumnValuesToBeBetween):
        """Each source's sampled harmful-content rate is at most the policy maximum."""

        description: str = "Harmful content per source under the threshold (TC260-003 5.1 a)"

    class ExpectSourceFreeOfWithdrawnWorks(gxe.ExpectColumnValuesToBeBetween):
        """No record matches a work in the opt-out / takedown registry (Art. 7(2))."""

        description: str = "No withdrawn or infringing works (Art. 7(2))"

    class ExpectSourceWithoutCopyrightNotices(gxe.ExpectColumnValuesToBeBetween):
        """No record carries a copyright notice or licence header of a third party."""

        description: str = "Copyright notices inside records (Art. 7(2))"

    class ExpectSourceFreeOfReportedContent(gxe.ExpectColumnValuesToBeBetween):
        """No record holds what the violation registry removed (Art. 13, 15)."""

        description: str = "No content under deletion, withdrawn or reported (Art. 13, 15)"

    class ExpectCorpusSamplePassRateAtLeast(gxe.ExpectColumnValuesToBeBetween):
        """A whole-corpus sample passes at least the policy rate (TC260-003 9.2)."""

        description: str = "Whole-corpus assessment pass rate (TC260-003 9.2)"

    classes: dict[str, Any] = {
        "expect_source_personal_info_covered_by_consent": ExpectSourcePersonalInfoCoveredByConsent,
        "expect_source_harmful_rate_within_policy": ExpectSourceHarmfulRateWithinPolicy,
        "expect_source_free_of_withdrawn_works": ExpectSourceFreeOfWithdrawnWorks,
        "expect_source_without_copyright_notices": ExpectSourceWithoutCopyrightNotices,
        "expect_source_free_of_reported_content": ExpectSourceFreeOfReportedContent,
        "expect_corpus_sample_pass_rate_at_least": ExpectCorpusSamplePassRateAtLeast,
    }
    return classes
