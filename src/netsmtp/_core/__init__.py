"""The sans-IO protocol core: bytes in, replies out, no sockets, no clocks.

Nothing in this package may import ``socket``, ``ssl``, ``asyncio``, ``selectors`` or
``time``; ``tests/core/test_no_io.py`` enforces it.
"""
