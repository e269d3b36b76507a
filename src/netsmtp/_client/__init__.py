"""The client written once: operations as generators, run by the blocking and asyncio drivers."""
