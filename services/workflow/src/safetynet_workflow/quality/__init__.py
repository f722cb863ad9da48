"""The data-quality page (the issues themselves live in intake)."""
