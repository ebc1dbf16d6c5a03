"""Management grids: 15-digit codes, GeoJSON import and point-to-grid lookup."""
