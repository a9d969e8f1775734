"""Forms of the incident pages: validation only; the rules live in the services."""
