"""The region directory: code, name, level and parent of the county, its townships and villages
(`longxian.csv` seeds 陇县; `safetynet regions load FILE.csv` adds another county), its API and the
in-memory directory every page, list, report, export and case event takes names from."""
