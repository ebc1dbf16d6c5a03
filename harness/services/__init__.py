"""Real services started by the demo, benchmarks and tests (broker, database, RTSP)."""

from harness.services.mosquitto import MosquittoBroker, find_mosquitto
from harness.services.postgres import PostgresServer, find_postgres_bin
from harness.services.process import free_port, stop_process
from harness.services.rtsp import RtspSimulatorProcess

__all__ = [
    "MosquittoBroker",
    "PostgresServer",
    "RtspSimulatorProcess",
    "find_mosquitto",
    "find_postgres_bin",
    "free_port",
    "stop_process",
]
