#!/usr/bin/env python3
"""Raw TCP baseline for the transfer benchmark: file → TCP → file → TCP → file over loopback.

    tcp_copy.py SOURCE MIDDLE DESTINATION

Two hops, one after the other, as Conduit's upload (worker → coordinator) and fetch (coordinator →
worker) are. Each hop is a sender process reading a file in 1 MiB blocks into a reused buffer and a
receiver process writing what arrives to a file on the same file system, no fsync and no hashing.
Prints one line of JSON: seconds per hop and in all, and bytes moved.

Python 3 standard library only.
"""
import json
import os
import socket
import subprocess
import sys
import time

BLOCK = 1 << 20


def receive(port_file, destination):
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    with open(port_file, "w") as f:
        f.write(str(listener.getsockname()[1]))
    connection, _ = listener.accept()
    buffer = bytearray(BLOCK)
    view = memoryview(buffer)
    total = 0
    with open(destination, "wb", buffering=0) as out:
        while True:
            n = connection.recv_into(buffer)
            if n == 0:
                break
            out.write(view[:n])
            total += n
    connection.close()
    print(total)


def send(port, source):
    connection = socket.create_connection(("127.0.0.1", port))
    buffer = bytearray(BLOCK)
    view = memoryview(buffer)
    with open(source, "rb", buffering=0) as f:
        while True:
            n = f.readinto(buffer)
            if not n:
                break
            connection.sendall(view[:n])
    connection.shutdown(socket.SHUT_WR)
    connection.close()


def hop(source, destination):
    port_file = destination + ".port"
    if os.path.exists(port_file):
        os.unlink(port_file)
    receiver = subprocess.Popen([sys.executable, __file__, "--receive", port_file, destination],
                                stdout=subprocess.PIPE, text=True)
    while not (os.path.exists(port_file) and os.path.getsize(port_file) > 0):
        time.sleep(0.01)
    port = int(open(port_file).read())
    start = time.monotonic()
    sender = subprocess.Popen([sys.executable, __file__, "--send", str(port), source])
    sender.wait()
    received = int(receiver.communicate()[0])
    seconds = time.monotonic() - start
    os.unlink(port_file)
    if sender.returncode != 0 or receiver.returncode != 0:
        sys.exit("tcp_copy: a hop failed")
    return seconds, received


def main():
    if sys.argv[1] == "--receive":
        receive(sys.argv[2], sys.argv[3])
    elif sys.argv[1] == "--send":
        send(int(sys.argv[2]), sys.argv[3])
    else:
        source, middle, destination = sys.argv[1:4]
        first, n1 = hop(source, middle)
        second, n2 = hop(middle, destination)
        size = os.path.getsize(source)
        if n1 != size or n2 != size:
            sys.exit(f"tcp_copy: moved {n1} and {n2} bytes of {size}")
        print(json.dumps({"hop1": first, "hop2": second, "seconds": first + second, "bytes": size}))


if __name__ == "__main__":
    main()
