"""Transactional outbox: a job is a row written in the same transaction as its cause."""

from pxm.platform.jobs.service import enqueue, handler, run_job, run_pending, sweep

__all__ = ["enqueue", "handler", "run_job", "run_pending", "sweep"]
