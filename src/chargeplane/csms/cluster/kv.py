"""Compare-and-delete on a JetStream key-value bucket, the one way the cluster hands back what it held."""

from __future__ import annotations

from nats.js.errors import BadRequestError, NotFoundError
from nats.js.kv import KeyValue

# JetStream's "wrong last sequence" codes: the key was written by someone else since our revision.
_WRONG_LAST_SEQUENCE = frozenset({10071, 10164})


async def delete_if_unchanged(kv: KeyValue, key: str, revision: int) -> bool:
    """Delete ``key`` only if its last revision is still ``revision``; False when another writer got there
    first (or the key is gone, or NATS did not answer in time), which to a caller handing a key back all
    mean the same: it is not ours any more.

    ``KeyValue.delete`` (unlike ``update``) raises the bare ``BadRequestError`` for a wrong last sequence,
    so that code is recognised here rather than at every caller.
    """
    try:
        await kv.delete(key, last=revision)
    except BadRequestError as error:  # includes KeyWrongLastSequenceError, should a release map it
        if error.err_code in _WRONG_LAST_SEQUENCE:
            return False
        raise
    except (TimeoutError, NotFoundError):
        return False
    return True
