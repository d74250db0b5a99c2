"""Weekly activity requirements behind process_to_requirement."""
