"""Central: events into grid tickets, dispatch, the closed loop, HTTP API, pages."""
