"""Dataset recipes (YAML), shipped with canvas_data as package data."""
