"""Sampling inspection of closed cases: the sampler, the auditors' inspection tasks, reopening on failure."""
