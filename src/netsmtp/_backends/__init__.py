"""Transports: bytes in, bytes out, every wait bounded, backend errors translated."""
