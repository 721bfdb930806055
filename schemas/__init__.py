"""Wire and storage contract shared by the gateway, the actors and the scheduler.

Pure msgspec Structs and the rules about them; nothing here performs I/O or imports
anything else of Conveyor's.
"""
