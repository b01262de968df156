#!/usr/bin/env python3
"""Sends Cursor-on-Target markers to a Truce CoT listener with PyTAK, as a TAK client does.

Over TCP (one stream, as ATAK or a TAK server sends) and over UDP (one event per datagram),
through PyTAK's own client machinery: a CLITool with COT_URL, its TXWorker writing what a
worker puts on the queue. Over the TCP connection it also writes two malformed events raw,
each followed by a valid one: an event broken off mid-tag (the stream resynchronises at the
next <event) and a well-formed one with an impossible latitude (rejected by validation).

Prints one JSON line per event sent, for the caller to check against the store:
  {"transport": "tcp", "uid": ..., "time": ..., "type": ..., "id": "cot:<uid>:<time>",
   "expect": "stored" | "rejected"}

Usage:
  send_markers.py --tcp tcp://127.0.0.1:8087 --udp udp://127.0.0.1:8088 [--count 5] [--tag T]

Needs PyTAK (`pip install pytak`; scripts/test installs it).
"""

import argparse
import asyncio
import json
import sys
import uuid
import xml.etree.ElementTree as ET
from configparser import ConfigParser

try:
    import pytak
except ImportError:
    sys.exit("send_markers.py: PyTAK is required: python3 -m pip install pytak")


class Done(Exception):
    """Everything queued has been written."""


class Sender(pytak.QueueWorker):
    """Puts the events on PyTAK's transmit queue, then ends the run once the queue is empty."""

    def __init__(self, queue, config, payloads):
        super().__init__(queue, config)
        self.payloads = payloads

    async def handle_data(self, data):
        await self.put_queue(data)

    async def run(self, _=-1):
        for data in self.payloads:
            await self.handle_data(data)
        while not self.queue.empty():
            await asyncio.sleep(0.05)
        # The TXWorker has taken the last event off the queue; let it write and drain.
        await asyncio.sleep(0.5)
        raise Done()


def marker(tag, n, cot_type, remarks, lat, lon, ce, callsign):
    """A marker as ATAK writes one: uid, type, how, time/start/stale, point with ce, and
    contact callsign and remarks in the detail."""
    uid = f"truce-test-{tag}-{n}"
    detail = ET.Element("detail")
    contact = ET.SubElement(detail, "contact")
    contact.set("callsign", callsign)
    ET.SubElement(detail, "remarks").text = remarks
    event = pytak.cot_event(
        lat=lat,
        lon=lon,
        ce=ce,
        hae=210,
        le=9999999,
        uid=uid,
        stale=3600,
        cot_type=cot_type,
        how="h-g-i-g-o",
        detail=detail,
    )
    time = event.get("time")
    return pytak.serialize_cot(event), {
        "uid": uid,
        "time": time,
        "type": cot_type,
        "id": f"cot:{uid}:{time}",
        "expect": "stored",
    }


def markers(tag, transport, count, first):
    """`count` spot markers (craters) and one artillery sighting."""
    out = []
    for i in range(count):
        n = first + i
        out.append(
            marker(
                tag,
                n,
                "b-m-p-s-m",
                f"fresh crater {n}, impact observed by team",
                48.02 + 0.001 * i,
                37.76 + 0.001 * i,
                15,
                f"MON-{transport.upper()}-{n}",
            )
        )
    n = first + count
    out.append(
        marker(tag, n, "a-u-G-E-W-A", "howitzer in position", 48.05, 37.70, 30, "MON-ART")
    )
    return out


async def send(url, payloads):
    config = ConfigParser()
    config["pytak"] = {"COT_URL": url, "TAK_PROTO": "0"}
    cli = pytak.CLITool(config["pytak"])
    await cli.setup()
    cli.add_task(Sender(cli.tx_queue, config["pytak"], payloads))
    try:
        await asyncio.wait_for(cli.run(), timeout=60)
    except Done:
        pass


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--tcp", required=True, help="tcp://HOST:PORT")
    p.add_argument("--udp", required=True, help="udp://HOST:PORT")
    p.add_argument("--count", type=int, default=5, help="spot markers per transport")
    p.add_argument("--tag", default=uuid.uuid4().hex[:8], help="goes into every uid")
    args = p.parse_args()

    sent = []
    tcp = markers(args.tag, "tcp", args.count, 0)
    # Malformed, written raw on the same connection, each followed by a valid event.
    broken_uid = f"truce-test-{args.tag}-broken"
    broken = (
        f'<event version="2.0" uid="{broken_uid}" type="b-m-p-s-m" how="h-g-i-g-o" '
        f'time="{pytak.cot_time()}"><point lat="48.03" lon='
    ).encode()
    bad_lat = marker(args.tag, "badlat", "b-m-p-s-m", "crater", 95.5, 37.8, 10, "MON-BAD")
    after_broken = marker(args.tag, "after-broken", "b-m-p-s-m", "impact", 48.04, 37.75, 10, "MON-TCP")
    after_bad = marker(args.tag, "after-badlat", "b-m-p-s-m", "crater", 48.045, 37.75, 10, "MON-TCP")
    payloads = [b for b, _ in tcp] + [broken, after_broken[0], bad_lat[0], after_bad[0]]
    sent += [dict(m, transport="tcp") for _, m in tcp]
    sent.append({"transport": "tcp", "uid": broken_uid, "expect": "rejected"})
    sent.append(dict(after_broken[1], transport="tcp"))
    sent.append(dict(bad_lat[1], transport="tcp", expect="rejected"))
    sent.append(dict(after_bad[1], transport="tcp"))
    asyncio.run(send(args.tcp, payloads))

    udp = markers(args.tag, "udp", args.count, 100)
    # Plain udp:// makes PyTAK also bind the destination port to read from it, which the
    # listener holds: send write-only.
    udp_url = args.udp.replace("udp://", "udp+wo://", 1)
    asyncio.run(send(udp_url, [b for b, _ in udp]))
    sent += [dict(m, transport="udp") for _, m in udp]

    for m in sent:
        print(json.dumps(m), flush=True)


if __name__ == "__main__":
    main()
