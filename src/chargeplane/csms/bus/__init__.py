"""How the CSMS reaches stations and tells the world: command routing to the node that holds a station's
socket, and station events for consoles and integrations. In-process today; the interfaces are what a NATS
implementation will provide for several nodes."""
