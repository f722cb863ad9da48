"""Sweeps (排查): a parent workflow per sweep and one child per batch of visits (grid worker first)."""
