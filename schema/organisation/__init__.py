"""GraphQL for organisation."""
