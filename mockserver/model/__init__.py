"""What the mock simulates: orgs and their credentials, usage over time (the ledger), the
scenarios that shape it, live usage, and the faults a user can switch on."""
