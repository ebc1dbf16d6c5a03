"""Stages between the camera slots and the publisher: batching, inference, analysis."""
