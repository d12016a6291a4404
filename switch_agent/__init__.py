"""switch_agent: the "vswitchd" of the project.

Sits on top of openflow/ (wire codecs, sans-IO channel) and datapath/ (packet
I/O and flow caches) and is the only package that imports both. It owns
ofproto (flow tables, groups, meters, ports and the semantics of every
OpenFlow request), connmgr/ofconn/rconn (controller connections, roles,
reconnect), xlate/upcall/revalidate (OpenFlow pipeline -> datapath actions and
megaflows), the NORMAL learning switch, configuration and the command-line
entry points (`switch-agent`, `swctl`).
"""
