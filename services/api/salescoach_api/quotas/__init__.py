"""Monthly quotas per rep."""
