"""OpenFlow 1.0 / 1.3 protocol library: message model, wire codecs, sans-IO channel,
ovs-ofctl text syntax.  No I/O and no imports from the rest of the project.

Entry points: ``openflow.codec`` (``decode``/``encode``), ``openflow.messages`` (the
model), ``openflow.channel`` (connection state machine), ``openflow.flowtext``
(ovs-ofctl syntax), ``openflow.errors`` (error table, ``CodecError``).  This package
module imports nothing so that importing one submodule stays cheap and cycle-free.
"""
