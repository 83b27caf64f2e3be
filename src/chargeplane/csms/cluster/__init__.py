"""Several CSMS nodes behind one load balancer, coordinated through NATS (issue #19, first slice).

* :mod:`.presence` - which node holds each station's socket: a JetStream key-value bucket with a TTL,
  refreshed by the holding node, mirrored in memory on every node;
* :mod:`.commands` - :class:`ClusterCommandRouter`: a command for a station held elsewhere goes by NATS
  request/reply to the holding node, which sends the CALL and answers with the station's response or the
  kind of error;
* :mod:`.events` - :class:`ClusterEventBus`: station events go to a JetStream stream too, so that SSE on any
  node sees every node's events;
* :mod:`.leader` - :class:`LeaderElection`: a lease key with a TTL in a key-value bucket; the cluster-wide
  periodic jobs (``BlockContext.every``) run on the node holding it only;
* :mod:`.node` - :class:`ClusterNode`: the NATS connection and the three parts, started and stopped by the
  CSMS (``CHARGEPLANE_NATS_URL``).

Without ``CHARGEPLANE_NATS_URL`` none of this is used: one process, the in-process bus.
"""
