"""Reports: the workflow service's own reporting tables (fed from the household-events and
risk-assessments topics), the summary endpoint with CSV export, and the notify HTTP client."""
