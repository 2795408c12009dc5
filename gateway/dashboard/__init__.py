"""The admin dashboard's numbers (aggregated in the database, kept as snapshots) and its
server-drawn SVG charts.
"""
