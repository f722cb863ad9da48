"""Household cases: opening from flagged assessments, the case workflow and its five steps, the case
API and pages."""
