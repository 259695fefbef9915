"""GraphQL for interactions."""
