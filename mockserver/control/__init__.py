"""The control API (``/__mock/…``) and the dashboard's files: scenarios, faults, live usage,
the journal and health, for people and tests driving the mock."""
