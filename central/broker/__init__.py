"""Broker access: who may connect to Mosquitto and what each identity may publish
and read, rendered as Mosquitto's password and ACL files."""
