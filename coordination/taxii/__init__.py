"""TAXII 2.1 server (issue 6): discovery, API roots, collections, objects, manifest, versions and status at
/taxii2/, over coordination.stix and the incident selectors; inbound collections for partner registries."""
