"""The top layer: the `gridwatch` command, the accuracy harness, benchmarks, the demo
and the launchers of the real services they start (Mosquitto, PostgreSQL, RTSP)."""
