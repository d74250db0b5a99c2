"""`GET /v1/sync/status`: how fresh the synced Salesforce data is, object by object."""
