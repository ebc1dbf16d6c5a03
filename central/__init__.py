"""Central service (see the central issue); not built yet."""
