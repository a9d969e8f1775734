"""Browser pages of incidents (DESIGN 2: UI views call the same services and selectors as the API)."""
