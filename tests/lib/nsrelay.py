#!/usr/bin/env python3
"""nsrelay.py NETNS LISTEN_ADDR LISTEN_PORT TARGET_PORT [READY_FILE]

A TCP relay across network namespaces: it listens on LISTEN_ADDR:LISTEN_PORT
inside the named network namespace (/var/run/netns/NETNS) and relays every
connection to 127.0.0.1:TARGET_PORT of the namespace it was started in.  With
../shared/wan (namespaces "wan" and "wansrv" joined by a delay line), a
server on the host's loopback becomes reachable from "wan" as
http://10.9.0.2:PORT/ across the emulated link:
    nsrelay.py wansrv 10.9.0.2 PORT NGINX_PORT
Writes READY_FILE when it listens.  Runs until killed; each connection is
two threads copying 64 KiB at a time (enough for the link rates used here).
"""
import ctypes
import os
import socket
import sys
import threading

CLONE_NEWNET = 0x40000000
libc = ctypes.CDLL(None, use_errno=True)


def setns(path):
    fd = os.open(path, os.O_RDONLY)
    try:
        if libc.setns(fd, CLONE_NEWNET) != 0:
            raise OSError(ctypes.get_errno(), "setns " + path)
    finally:
        os.close(fd)


def pump(src, dst):
    try:
        while True:
            b = src.recv(65536)
            if not b:
                break
            dst.sendall(b)
    except OSError:
        pass
    for s in (dst, src):
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


def main():
    if len(sys.argv) not in (5, 6):
        sys.exit(__doc__)
    netns, addr, lport, tport = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    home = os.open("/proc/self/ns/net", os.O_RDONLY)
    setns("/var/run/netns/" + netns)
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind((addr, lport))
    ls.listen(64)
    # Back home: connections to the target are made in the starting namespace.
    if libc.setns(home, CLONE_NEWNET) != 0:
        sys.exit("setns back: errno %d" % ctypes.get_errno())
    os.close(home)
    if len(sys.argv) == 6:
        with open(sys.argv[5], "w") as f:
            f.write("ready\n")
    while True:
        c, _ = ls.accept()
        try:
            t = socket.create_connection(("127.0.0.1", tport))
        except OSError:
            c.close()
            continue
        for s in (c, t):
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        threading.Thread(target=pump, args=(c, t), daemon=True).start()
        threading.Thread(target=pump, args=(t, c), daemon=True).start()


if __name__ == "__main__":
    main()
