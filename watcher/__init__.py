"""watcher: a travel-insurance desk run through shared folders and Excel workbooks."""

__version__ = "0.1.0"
