"""The training loop: in the core, so every model plugin gets the same tools."""
