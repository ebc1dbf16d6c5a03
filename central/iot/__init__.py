"""IoT sensors: device-type rules turning readings into events (docs/iot.md)."""
