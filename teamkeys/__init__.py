"""teamkeys: the composition root (settings, runtime, CLI) of the provisioning back end."""
