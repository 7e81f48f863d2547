"""Process exit codes (contract section 9), under the original tool's names and today's.

`EXIT_SUCCESS`, `EXIT_FAILURE`, `EXIT_PARTIAL`, `EXIT_INTERRUPTED` are the names scripts of the
original tool import; `EXIT_TERMINATED` (143, SIGTERM) is new. The values live in `errors.py`.
"""
from __future__ import annotations

from errors import EXIT_FATAL, EXIT_INTERRUPTED, EXIT_OK, EXIT_PARTIAL, EXIT_TERMINATED

EXIT_SUCCESS = EXIT_OK  # 0: the command succeeded
EXIT_FAILURE = EXIT_FATAL  # 1: configuration, sign-in, bad arguments, locks, network, unhandled error
# EXIT_PARTIAL 2: the parse finished and saved everything but some media failed
# EXIT_INTERRUPTED 130: SIGINT (Ctrl+C); EXIT_TERMINATED 143: SIGTERM

__all__ = ["EXIT_FAILURE", "EXIT_FATAL", "EXIT_INTERRUPTED", "EXIT_OK", "EXIT_PARTIAL", "EXIT_SUCCESS",
           "EXIT_TERMINATED"]
