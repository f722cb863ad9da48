"""`make bench`: each benchmark is a ratio against a baseline measured in the same run."""
