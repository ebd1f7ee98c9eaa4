"""escalator workers: the stream processors, the decision core and the agent-queue writer."""

__version__ = "0.1.0"
