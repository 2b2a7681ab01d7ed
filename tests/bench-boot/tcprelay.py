#!/usr/bin/python3
"""tcprelay.py LISTEN_HOST LISTEN_PORT TARGET_HOST TARGET_PORT
A plain TCP relay (no socat on this machine): every connection accepted on
LISTEN is joined to a new connection to TARGET, both ways, until either side
closes.  tests/bench-boot runs it in the "wan" namespace so that QEMU's
guest (user networking: 10.0.2.2:PORT is the namespace's 127.0.0.1:PORT)
reaches the server in "wansrv" across the delay line."""
import asyncio, socket, sys

lhost, lport, thost, tport = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])

async def pipe(r, w):
    try:
        while True:
            b = await r.read(262144)
            if not b:
                break
            w.write(b)
            await w.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        try:
            w.close()
        except OSError:
            pass

async def handle(cr, cw):
    try:
        sr, sw = await asyncio.open_connection(thost, tport)
    except OSError:
        cw.close()
        return
    for w in (cw, sw):
        s = w.get_extra_info('socket')
        if s is not None:
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    await asyncio.gather(pipe(cr, sw), pipe(sr, cw))

async def main():
    srv = await asyncio.start_server(handle, lhost, lport, reuse_address=True)
    print('relay ready', flush=True)
    async with srv:
        await srv.serve_forever()

asyncio.run(main())
