"""Oversight of a county by its officers and auditors: the dashboard of its townships (or a township's
villages), the township scorecard (考核), upward report submissions with their review, the case list and
应纳未纳 pages. Data from the case projection, the reporting tables and the region directory."""
