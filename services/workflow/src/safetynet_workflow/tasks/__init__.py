"""The task engine: human tasks with SLAs, reminders and escalations (host.py), their forms (forms.py),
inbox queries (store.py), the task API (api.py) and the inbox pages (pages.py)."""
