"""The emulator's protocol handlers, one module per API; ``server`` routes requests to them."""
