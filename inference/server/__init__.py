"""The sidecar: a long-lived process that keeps the models warm and renders jobs for bridges.

``app`` (the ROUTER loop and handler table), ``jobs`` (queue and job table), ``worker`` (the
render thread), ``__main__`` (the command line the supervisor starts).
"""
from inference.server.app import ServerConfig, SidecarServer

__all__ = ["ServerConfig", "SidecarServer"]
