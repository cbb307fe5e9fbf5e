"""The CLI's sidecar commands: ``topline sidecar``, ``topline bridge``, and the road every
``topline generate`` takes (through a sidecar, started for the call when none is running).

Kept apart from host_bridge/cli.py; :func:`register` adds the subcommands to its parser.
"""
from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
from pathlib import Path
from typing import Any, Callable

from host_bridge.core.connection import default_connection_file
from host_bridge.core.protocol import JobSpec, TaskSpec
from host_bridge.core.sidecar_args import add_arguments, sidecar_argv

log = logging.getLogger(__name__)

AUTO_SIDECAR_IDLE_EXIT_S = 600.0
"""A sidecar that ``topline generate`` started stays warm this long after its last job."""


def add_generate_options(g: argparse.ArgumentParser) -> None:
    """Options of ``topline generate`` that choose the sidecar."""
    g.add_argument("--connection-file", type=Path, default=None,
                   help="the sidecar to use (default: the user's; started when none runs)")
    g.add_argument("--sidecar-pipeline", default=None,
                   help="pipeline factory (module:callable) for a sidecar started for this call")


def generate_via_sidecar(spec: JobSpec, args: argparse.Namespace,
                         progress: Callable[[str, float], None] | None = None) -> Any:
    """Render ``spec`` on the sidecar of ``args.connection_file`` (starting one, left warm for
    later calls, when none answers). Returns the Take."""
    return job_via_sidecar(spec, args, progress=progress).take


def job_via_sidecar(spec: JobSpec | TaskSpec, args: argparse.Namespace, kind: str = "generate",
                    progress: Callable[[str, float], None] | None = None,
                    on_clip: Callable[[Any], None] | None = None, on_part: Callable[[Any], None] | None = None) -> Any:
    """Run one job (a JobSpec as ``kind``, or a TaskSpec) on the sidecar of ``args.connection_file``
    (starting one, left warm for later calls, when none answers) and wait for it; returns its
    finished :class:`host_bridge.bridge.JobHandle` (``take`` or ``result``), or raises its error."""
    from host_bridge.bridge import Bridge
    from host_bridge.supervisor import SidecarManager, sidecar_command

    extra = ["--threads", str(getattr(args, "threads", 2)), "--idle-exit", str(AUTO_SIDECAR_IDLE_EXIT_S)]
    if getattr(args, "sidecar_pipeline", None):
        extra += ["--pipeline", args.sidecar_pipeline]
    manager = SidecarManager(sidecar_command(extra), getattr(args, "connection_file", None), detach=True)
    bridge = Bridge(manager)
    job = None
    try:
        job = bridge.submit(spec, kind, on_progress=progress, on_clip=on_clip, on_part=on_part)
        bridge.wait(job.id, 3600.0)
        if job.error is not None:
            raise job.error
        return job
    except KeyboardInterrupt:  # Ctrl-C: the sidecar's worker must not go on rendering an orphan
        if job is not None:
            cancel_and_wait(bridge, job.id)
        raise
    finally:
        bridge.close()


def cancel_and_wait(bridge: Any, job_id: str, timeout: float = 3.0) -> None:
    """Cancel a job and wait (briefly) until the sidecar confirms, so the request is delivered."""
    from host_bridge.core.errors import ToplineError

    try:
        bridge.cancel(job_id)
        bridge.wait(job_id, timeout)
    except (ToplineError, KeyboardInterrupt) as e:
        log.info("cancel of %s not confirmed: %s", job_id, e)


# ------------------------------------------------------------------------------ topline sidecar
def _add_sidecar(sub: Any) -> None:
    s = sub.add_parser("sidecar", help="run the inference sidecar (models kept warm), or stop / query one")
    add_arguments(s)
    s.add_argument("--stop", action="store_true", help="stop the running sidecar")
    s.add_argument("--status", action="store_true", help="print the running sidecar's hello and queue")
    s.add_argument("--make-keys", type=Path, metavar="DIR",
                   help="create CURVE keys (server + one bridge) for binding beyond 127.0.0.1, then exit")
    s.set_defaults(func=cmd_sidecar)


def cmd_sidecar(args: argparse.Namespace) -> int:
    cf = args.connection_file or default_connection_file()
    if args.make_keys:
        import zmq.auth

        (args.make_keys / "clients").mkdir(parents=True, exist_ok=True)
        zmq.auth.create_certificates(str(args.make_keys), "server")
        zmq.auth.create_certificates(str(args.make_keys / "clients"), "bridge")
        print(f"keys in {args.make_keys}: start with --curve-keys {args.make_keys}; "
              f"bridges use {args.make_keys / 'clients' / 'bridge.key_secret'}")
        return 0
    if args.stop or args.status:
        from host_bridge.supervisor import SidecarManager

        manager = SidecarManager(connection_file=cf)
        client = manager.attach()
        if client is None:
            print(f"no sidecar answers at {cf}")
            return 1
        try:
            if args.status:
                print(json.dumps({"hello": client.hello(), "status": client.status()}, indent=1))
            if args.stop:
                manager.shutdown(client)
                print(f"sidecar {manager.info.pid if manager.info else '?'} stopped")
        finally:
            client.close()
        return 0
    args.connection_file = cf
    return run_sidecar_program(sidecar_argv(args) + (["--verbose"] if getattr(args, "verbose", False) else []))


def run_sidecar_program(argv: list[str]) -> int:
    """Become the sidecar program (``python -m inference.server``, or the standalone build's
    ``topline-sidecar``) with ``argv``: this process is replaced, so its pid, signals and exit
    status are the sidecar's."""
    import importlib.util

    from host_bridge.core.errors import InputError
    from host_bridge.core.frozen import is_frozen
    from host_bridge.core.programs import exec_program
    from host_bridge.supervisor import sidecar_command

    cmd = sidecar_command(argv)
    if is_frozen() and not Path(cmd[0]).is_file() or not is_frozen() and importlib.util.find_spec("inference") is None:
        raise InputError("this build has no sidecar", f"put {Path(cmd[0]).name} beside this program "
                         "(it ships with the standalone build), or install Topline with the sidecar extra: "
                         "pip install topline[sidecar]")
    exec_program(cmd)
    return 0  # not reached


# ------------------------------------------------------------------------------ topline bridge
def _add_bridge(sub: Any) -> None:
    b = sub.add_parser("bridge", help="serve the OSC surface for a DAW, delivering takes next to the session")
    where = b.add_mutually_exclusive_group(required=True)
    where.add_argument("--session", type=Path, help="the DAW session file or folder (takes go beside it)")
    where.add_argument("--takes", type=Path, help="the takes folder")
    b.add_argument("--osc-host", default="127.0.0.1", help="address for OSC (default loopback)")
    b.add_argument("--osc-allow-remote", action="store_true",
                   help="allow --osc-host beyond loopback (any machine that reaches it can start jobs)")
    b.add_argument("--osc-port", type=int, default=9050, help="UDP port for OSC (0 picks one)")
    b.add_argument("--connection-file", type=Path, default=None, help="the sidecar to use")
    b.add_argument("--sidecar-pipeline", default=None, help="pipeline factory for a sidecar this bridge starts")
    b.add_argument("--threads", type=int, default=2, help="CPU threads for a sidecar this bridge starts")
    b.add_argument("--float", action="store_true", help="write takes as 32-bit float WAV instead of 24-bit")
    b.set_defaults(func=cmd_bridge)


def cmd_bridge(args: argparse.Namespace) -> int:
    from host_bridge.bridge import Bridge
    from host_bridge.osc import OscSurface
    from host_bridge.supervisor import SidecarManager, sidecar_command
    from host_bridge.takes import TakeFolder, takes_folder_for

    folder = args.takes if args.takes else takes_folder_for(args.session)
    extra = ["--threads", str(args.threads)] + (["--pipeline", args.sidecar_pipeline] if args.sidecar_pipeline else [])
    bridge = Bridge(SidecarManager(sidecar_command(extra), args.connection_file))
    root = folder.parent if args.takes else (args.session if args.session.is_dir() else args.session.parent)
    surface = OscSurface(bridge, TakeFolder(folder, subtype="FLOAT" if args.float else "PCM_24"),
                         args.osc_host, args.osc_port, root=root, allow_remote=args.osc_allow_remote)
    if args.osc_host not in ("127.0.0.1", "localhost", "::1"):
        print(f"topline bridge: warning: OSC on {args.osc_host} accepts jobs from any machine that reaches it",
              file=sys.stderr, flush=True)
    hello = bridge.connect()
    for s in (signal.SIGTERM, signal.SIGINT):
        signal.signal(s, lambda *_: surface.stop())
    surface.start()
    host, port = surface.address
    print(f"topline bridge: OSC on {host}:{port}, sidecar {hello['pid']} ({hello['state']}), takes in {folder}",
          flush=True)
    try:
        surface.run()
    finally:
        bridge.close()
    return 0


def register(sub: Any) -> None:
    """Add ``sidecar`` and ``bridge`` to the ``topline`` parser (see host_bridge.cli.EXTRA_COMMANDS)."""
    _add_sidecar(sub)
    _add_bridge(sub)
