"""Real services started by the demo, benchmarks and tests (broker, database, RTSP)."""

from gridwatch.services.mosquitto import MosquittoBroker, find_mosquitto
from gridwatch.services.postgres import PostgresServer, find_postgres_bin
from gridwatch.services.process import free_port, stop_process
from gridwatch.services.rtsp import RtspSimulatorProcess

__all__ = [
    "MosquittoBroker",
    "PostgresServer",
    "RtspSimulatorProcess",
    "find_mosquitto",
    "find_postgres_bin",
    "free_port",
    "stop_process",
]
