"""The sans-I/O charging station: no asyncio, sockets or database; time is an argument.

:class:`~.station.StationCore` (2.0.1 and 2.1) and :class:`~.station16.Station16Core` (1.6) take events
and CSMS CALLs in and give CALLs to send and hardware actions out; persistence goes through
:class:`~.storage.Storage`.
"""
