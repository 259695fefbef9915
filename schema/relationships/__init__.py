"""GraphQL for relationships."""
