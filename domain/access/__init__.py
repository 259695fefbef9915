"""Who may see and do what: principals, field policies, masking, row rules."""
