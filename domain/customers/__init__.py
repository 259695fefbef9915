"""Customers: the person or organisation the bank serves, their contact points and documents."""
