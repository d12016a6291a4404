"""The datapath: switch-agent's "kernel datapath", in userspace.

Sits below switch_agent/ and knows nothing of OpenFlow (issue 5). It owns the
netdevs (system = AF_PACKET raw socket, internal = tap for LOCAL, dummy = in
memory, vxlan, patch), flow key extraction, the exact-match and megaflow caches,
the datapath action executor and the upcall to the slow path. It caches "this
key under this mask -> these datapath actions" and asks switch_agent/ (via the
dpif interface) about everything else. It imports nothing else of the project.
"""
