"""Customer value: contribution (revenue − cost to serve), the four value tiers, segments."""
