"""Campaigns and test-and-learn (issue 24): target, contact, attribute, prove what worked."""
