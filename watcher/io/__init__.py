"""Workbook and page I/O: reading any accepted file into cells, writing results, templates and pages."""
