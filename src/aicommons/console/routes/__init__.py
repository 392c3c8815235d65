"""Console pages, one module per service; each builds its `router` with `ConsoleRoute`."""
