"""One replica of a service (`make up REPLICAS=N`): uvicorn serving the app on the service's contract port,
shared with its sibling replicas through SO_REUSEPORT, and on a port of its own.

The kernel spreads new connections on the shared port over the replicas still listening, so a killed
replica drops out of the rotation by itself, with no balancer process to run or keep alive. The replica's
own port is for what must reach one replica in particular: readiness checks and metrics scrapes.

    python -m safetynet_core.replica safetynet_intake.main:create_app --shared-port 8001 --port 8101
"""

from __future__ import annotations

import argparse
import socket

import uvicorn


def listening_socket(host: str, port: int, shared: bool) -> socket.socket:
    """A bound TCP socket; `shared` ones may be bound by every replica at once (SO_REUSEPORT)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if shared:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.set_inheritable(True)
    return sock


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("factory", help="module:function returning the ASGI app")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--shared-port", type=int, required=True, help="the service's port, shared by replicas")
    parser.add_argument("--port", type=int, required=True, help="this replica's own port")
    parser.add_argument("--timeout-graceful-shutdown", type=int, default=10)
    parser.add_argument("--forwarded-allow-ips", default="127.0.0.1", help="the TLS proxy's addresses")
    args = parser.parse_args(argv)
    config = uvicorn.Config(
        args.factory,
        factory=True,
        host=args.host,
        access_log=False,
        proxy_headers=True,
        forwarded_allow_ips=args.forwarded_allow_ips,
        timeout_graceful_shutdown=args.timeout_graceful_shutdown,
    )
    sockets = [
        listening_socket(args.host, args.shared_port, shared=True),
        listening_socket(args.host, args.port, shared=False),
    ]
    uvicorn.Server(config).run(sockets=sockets)


if __name__ == "__main__":
    main()
