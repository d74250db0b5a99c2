"""Authentication (API keys, OIDC tokens) and authorization (roles, rep scope) of the API."""
