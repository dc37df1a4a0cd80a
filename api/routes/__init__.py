"""HTTP routes, one module per area; each route parses, authorizes, calls one service, maps."""
