"""Cross-checks against independent implementations: Ryu 4.34 (.ryu-venv) and ovs-ofctl."""
