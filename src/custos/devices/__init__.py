"""Work phones: registry, policies, commands, the agent protocol."""
