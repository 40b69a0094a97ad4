"""Dataset card templates, shipped with canvas_data as package data."""
