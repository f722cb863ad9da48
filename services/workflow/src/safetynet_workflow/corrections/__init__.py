"""Registry corrections (信息更正纠错): filed with evidence, reviewed, approved, applied through intake."""
