# A TCP listener whose accept queue is full and never drained: a connect() to it hangs (the kernel
# drops the SYN) instead of failing. listen(0), then connections of its own until one stays
# pending: how many the queue takes first depends on the kernel, so it is found, not assumed.
# Prints "<port> full", or "<port> notfull" when the kernel completed (or refused) every attempt
# (then a hanging connect cannot be made here), then waits until stdin closes: it dies with the
# test run that started it.
import select
import socket
import sys

server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
server.bind(("127.0.0.1", 0))
server.listen(0)
address = server.getsockname()
held = []
full = False
for _ in range(64):
    filler = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    filler.setblocking(False)
    try:
        filler.connect(address)
    except BlockingIOError:
        pass
    held.append(filler)
    # Writable at once: the kernel completed (or refused) it. Not within 0.3 s: its SYN was dropped.
    _, writable, _ = select.select([], [filler], [], 0.3)
    if not writable:
        full = True
        break
print(address[1], "full" if full else "notfull", flush=True)
sys.stdin.read()
