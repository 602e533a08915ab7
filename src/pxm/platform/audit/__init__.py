"""Hash-chained, append-only audit log."""

from pxm.platform.audit.service import record, verify_chain, write_pending

__all__ = ["record", "verify_chain", "write_pending"]
