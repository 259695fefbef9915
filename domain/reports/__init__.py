"""Management reports: set-based figures over the bank's own records, by role."""
