"""The sans-I/O charging station: no asyncio, sockets or database; time is an argument.

:class:`~.station.StationCore` (1.6, 2.0.1 and 2.1) takes events and CSMS CALLs in and gives CALLs to send
and hardware actions out. It composes one controller per functional block (:mod:`.registration`,
:mod:`.provisioning`, :mod:`.authorization`, :mod:`.local_list`, :mod:`.transactions`, :mod:`.remote`,
:mod:`.availability`, :mod:`.reservation`, :mod:`.metering`, :mod:`.data_transfer`, :mod:`.offline_queue`)
over a shared :class:`~.context.Context`; the wire format of each version is an adapter
(:mod:`.adapter2x`, :mod:`.adapter16`). Persistence goes through :class:`~.storage.Storage`.
"""
