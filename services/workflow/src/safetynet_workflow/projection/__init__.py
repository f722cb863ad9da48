"""The projection: what the workflows record (cases, tasks, timeline entries) written to Postgres for
inboxes and case pages, and the public entries published on the case-events topic."""
