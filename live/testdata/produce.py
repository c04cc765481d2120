"""Produces the records of a JSON-lines file with confluent-kafka, each
value encoded by python3-avro with its writer schema and framed by hand in
the Confluent wire format (magic byte 0, 4-byte big-endian schema id).

Usage: produce.py BROKERS FILE
Each line: {"topic", "partition", "key", "id", "schema", "value"}, the
value in python3-avro's form with timestamps as epoch milliseconds (the
logical types are dropped from the schema: the binary encoding is the
same).
"""
import io
import json
import struct
import sys

import avro.io
import avro.schema
from confluent_kafka import Producer


def strip(x):
    if isinstance(x, dict):
        return {k: strip(v) for k, v in x.items() if k != "logicalType"}
    if isinstance(x, list):
        return [strip(v) for v in x]
    return x


def main():
    producer = Producer({"bootstrap.servers": sys.argv[1], "enable.idempotence": True})
    schemas = {}
    with open(sys.argv[2]) as f:
        for line in f:
            r = json.loads(line)
            schema = schemas.get(r["id"])
            if schema is None:
                schema = avro.schema.parse(json.dumps(strip(json.loads(r["schema"]))))
                schemas[r["id"]] = schema
            buf = io.BytesIO()
            avro.io.DatumWriter(schema).write(r["value"], avro.io.BinaryEncoder(buf))
            framed = b"\0" + struct.pack(">I", r["id"]) + buf.getvalue()
            producer.produce(r["topic"], value=framed, key=r["key"].encode(), partition=r["partition"])
            producer.poll(0)
    left = producer.flush(30)
    if left:
        sys.exit("%d records not delivered" % left)


main()
