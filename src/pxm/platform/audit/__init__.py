"""Hash-chained, append-only audit log."""

from pxm.platform.audit.service import lock_head_in, record, verify_chain, write_pending

__all__ = ["lock_head_in", "record", "verify_chain", "write_pending"]
