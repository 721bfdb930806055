"""The implementations of the engines' operations: one module per engine, named after it.

Each implements the contracts its engine declares in schemas/contracts/ with
`actors.sdk.operation`. A worker imports only the modules of the queues it serves
(`actors.sdk.load_engines`), so an engine's libraries load where its jobs run and nowhere else.
"""
