"""Data flow from raw media to model inputs: decode → faces → crops (→ data sets → packing)."""
