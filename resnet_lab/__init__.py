"""resnet_lab: helpers for a replication book on the stability of residual networks."""
__version__ = "0.1.0"
