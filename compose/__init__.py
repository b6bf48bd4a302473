"""pycompose: the compose side (config loading, graph, orchestration, CLI)."""
