"""Scenario builder: composited test scenes (littering, abandoned objects, crowds)
made from real footage, with their ground truth as scenario YAML."""
