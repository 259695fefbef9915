"""Consent by purpose and erasure within the law (PIPL): what the bank may do with personal data."""
