"""OCI distribution client: pull and push against registries (stdlib HTTP only)."""
