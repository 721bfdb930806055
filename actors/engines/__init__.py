"""One module per engine; each declares its operations with `actors.sdk.operation`.

Every module in this package is imported by `actors.sdk.load_engines`, so adding an
operation is adding (or extending) one module here.
"""
