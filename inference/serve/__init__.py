"""The sidecar as a Ray Serve application (issue 21): replicas are Topline pipelines, and a
gateway speaks the Topline protocol on a ZeroMQ ROUTER so bridges reach a cluster exactly as
they reach a local sidecar (only the connection file differs).

- :mod:`inference.serve.replica`: the Serve deployment; each replica loads one pipeline and
  renders one job at a time with the sidecar's own render code, streaming its events back.
- :mod:`inference.serve.fair`: the gateway's job queue: priorities first (auditions before full
  takes), then round-robin across users (bridges), with per-user limits.
- :mod:`inference.serve.dispatch`: takes jobs from that queue as replicas free up, streams them
  through a Serve handle, retries a job whose replica died, and delivers each event once.
- :mod:`inference.serve.gateway`: the sidecar's server loop with the dispatcher as its worker,
  and the start of a local Ray cluster (``topline cluster up``).

Ray is imported only here, never by ``host_bridge``.
"""
