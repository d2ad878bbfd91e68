#!/usr/bin/python3
"""ws_python_client.py URL SUBJECT COUNT [SERVER_MAX_WINDOW_BITS]: a wsgate client on Python's
websockets (Debian's python3-websockets, permessage-deflate on by default).

Subscribes to SUBJECT (the subscription itself sent compressed), prints
'ready' once the ok arrived, then one JSON line per msg frame until COUNT
arrived, then a last line {"extensions": "..."} with what was negotiated.
"""
import asyncio
import json
import sys

import websockets
from websockets.extensions.permessage_deflate import ClientPerMessageDeflateFactory


async def main():
    url, subject, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
    kwargs = {}
    if len(sys.argv) > 4:
        kwargs["extensions"] = [ClientPerMessageDeflateFactory(
            server_max_window_bits=int(sys.argv[4]), client_max_window_bits=True,
            compress_settings={"memLevel": 5})]
    else:
        kwargs["compression"] = "deflate"
    async with websockets.connect(url, max_size=2**24, **kwargs) as ws:
        hello = json.loads(await ws.recv())
        assert hello["op"] == "hello", hello
        await ws.send(json.dumps({"op": "sub", "subject": subject, "id": "py",
                                  "pad": "p" * 100}))  # long enough to be compressed
        got = 0
        while got < count:
            f = json.loads(await ws.recv())
            if f["op"] == "ok":
                print("ready", flush=True)
            elif f["op"] == "msg":
                print(json.dumps({"seq": f["seq"], "subject": f["subject"], "data": f["data"]}),
                      flush=True)
                got += 1
            elif f["op"] == "err":
                print(json.dumps(f), flush=True)
                sys.exit(1)
        ext = ws.response_headers.get("Sec-WebSocket-Extensions", "")
        print(json.dumps({"extensions": ext}), flush=True)


asyncio.run(main())
