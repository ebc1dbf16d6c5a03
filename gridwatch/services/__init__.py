"""Real services started by the demo, benchmarks and tests (broker, RTSP simulator)."""

from gridwatch.services.mosquitto import MosquittoBroker, find_mosquitto, free_port
from gridwatch.services.rtsp import RtspSimulatorProcess

__all__ = ["MosquittoBroker", "RtspSimulatorProcess", "find_mosquitto", "free_port"]
