"""Engine actors: the operation SDK, one module per engine, and the worker middleware."""
