"""Checks: each takes a validated dataset and the policy and returns findings."""
