"""Operations: liveness and readiness probes, the status page, Prometheus metrics, and
writing the instance config.
"""
