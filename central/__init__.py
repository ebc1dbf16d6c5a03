"""Central: events into grid tickets, dispatch, the closed loop, the HTTP API and pages."""
