#!/usr/bin/env python3
"""A shaped link made in user space, for benches/cluster.sh: a TCP proxy on
loopback that delays every chunk by a one-way latency and paces it at a rate
(the kernel here has no sch_netem). Same rule as the Rust proxy in
tests/rpc_cluster_server.rs: a chunk read at t is written no earlier than
t + latency and no sooner than the previous chunk's due time + its wire time.

  link_proxy.py LISTEN_PORT UPSTREAM_PORT ONE_WAY_MS GBIT

Binds 127.0.0.1 only. Runs until killed (SIGTERM)."""

import queue
import socket
import sys
import threading
import time


def pump(src, dst, one_way_s, bytes_per_s):
    q = queue.Queue()

    def writer():
        while True:
            item = q.get()
            if item is None:
                break
            due, chunk = item
            wait = due - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            try:
                dst.sendall(chunk)
            except OSError:
                break
        try:
            dst.shutdown(socket.SHUT_WR)
        except OSError:
            pass

    w = threading.Thread(target=writer, daemon=True)
    w.start()
    last_due = time.monotonic()
    while True:
        try:
            chunk = src.recv(1 << 16)
        except OSError:
            break
        if not chunk:
            break
        now = time.monotonic()
        due = max(now + one_way_s, last_due + len(chunk) / bytes_per_s)
        last_due = due
        q.put((due, chunk))
    q.put(None)
    w.join()


def main():
    listen_port, upstream_port = int(sys.argv[1]), int(sys.argv[2])
    one_way_s = float(sys.argv[3]) / 1e3
    bytes_per_s = float(sys.argv[4]) * 1e9 / 8
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", listen_port))
    srv.listen(8)
    while True:
        client, _ = srv.accept()
        try:
            up = socket.create_connection(("127.0.0.1", upstream_port))
        except OSError:
            client.close()
            continue
        for s in (client, up):
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        threading.Thread(target=pump, args=(client, up, one_way_s, bytes_per_s), daemon=True).start()
        threading.Thread(target=pump, args=(up, client, one_way_s, bytes_per_s), daemon=True).start()


if __name__ == "__main__":
    main()
