"""Hotspot early warning (网格热点问题智能分析预警): per grid × category, recent
tickets against the series' own baseline (`detector`), the scheduled run and live
feed (`job`), the `hotspot_warnings` table (`store`), what staff hear (`notice`)."""

from central.warnings.detector import Assessment, SeriesCounts, assess

__all__ = ["Assessment", "SeriesCounts", "assess"]
