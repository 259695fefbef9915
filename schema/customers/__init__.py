"""GraphQL for customers."""
