"""Drive reckon's embedded schema registry with Confluent's Python client.

Usage: confluent_interop.py URL USER:PASS PAYMENT_V1 PAYMENT_V2 INCOMPATIBLE

Registers, reads back, looks up and tests schemas with
confluent_kafka.schema_registry.SchemaRegistryClient (Debian's
python3-confluent-kafka), asserting each answer, then encodes one payment
with python3-avro's DatumWriter, frames it by hand in the Confluent wire
format (magic byte 0, 4-byte big-endian schema id) and prints a JSON object
with the ids and the framed message (base64) for the Go test to decode.
"""

import base64
import datetime
import io
import json
import struct
import sys

import avro.io
import avro.schema
from confluent_kafka.schema_registry import Schema, SchemaRegistryClient
from confluent_kafka.schema_registry.error import SchemaRegistryError


def client(url, auth):
    # A fresh client has an empty cache, so every call reaches the registry.
    return SchemaRegistryClient({"url": url, "basic.auth.user.info": auth})


def expect_error(code, fn):
    try:
        fn()
    except SchemaRegistryError as e:
        assert e.error_code == code, (code, e.error_code, e.error_message)
        return
    raise AssertionError("expected registry error %d" % code)


def main():
    url, auth, v1_path, v2_path, bad_path = sys.argv[1:6]
    v1 = open(v1_path).read()
    v2 = open(v2_path).read()
    bad = open(bad_path).read()
    subject = "payments-value"

    id1 = client(url, auth).register_schema(subject, Schema(v1, "AVRO"))
    again = client(url, auth).register_schema(subject, Schema(v1, "AVRO"))
    assert again == id1, ("register is not idempotent", id1, again)
    other = client(url, auth).register_schema("payments-copy-value", Schema(v1, "AVRO"))
    assert other == id1, ("one schema, two subjects, two ids", id1, other)

    got = client(url, auth).get_schema(id1)
    assert got.schema_type == "AVRO", got.schema_type
    assert json.loads(got.schema_str) == json.loads(v1), got.schema_str

    c = client(url, auth)
    assert c.test_compatibility(subject, Schema(v2, "AVRO")) is True
    assert c.test_compatibility(subject, Schema(bad, "AVRO")) is False
    id2 = c.register_schema(subject, Schema(v2, "AVRO"))
    assert id2 != id1, id2
    expect_error(409, lambda: client(url, auth).register_schema(subject, Schema(bad, "AVRO")))

    latest = client(url, auth).get_latest_version(subject)
    assert (latest.schema_id, latest.version, latest.subject) == (id2, 2, subject), vars(latest)
    first = client(url, auth).get_version(subject, 1)
    assert first.schema_id == id1, vars(first)
    found = client(url, auth).lookup_schema(subject, Schema(v1, "AVRO"))
    assert (found.schema_id, found.version) == (id1, 1), vars(found)
    assert client(url, auth).get_versions(subject) == [1, 2]
    assert sorted(client(url, auth).get_subjects()) == ["payments-copy-value", subject]

    assert c.get_compatibility() == "BACKWARD"
    c.set_compatibility(subject_name="payments-copy-value", level="full_transitive")
    assert c.get_compatibility("payments-copy-value") == "FULL_TRANSITIVE"
    expect_error(40408, lambda: c.get_compatibility(subject))
    expect_error(40403, lambda: client(url, auth).get_schema(9999))
    expect_error(40401, lambda: client(url, auth).get_latest_version("no-such-subject"))
    expect_error(42201, lambda: client(url, auth).register_schema(subject, Schema('{"type": "nonsense"}', "AVRO")))

    assert client(url, auth).delete_subject("payments-copy-value") == [1]

    # One payment, written with v1 by the reference Avro implementation.
    writer = avro.schema.parse(v1)
    buf = io.BytesIO()
    buf.write(b"\x00" + struct.pack(">I", id1))
    avro.io.DatumWriter(writer).write(
        {
            "payment_id": "p-1",
            "merchant_id": "m-9",
            "amount_minor": 123456789012,
            "currency": "EUR",
            "status": "REFUNDED",
            "created_at": datetime.datetime(2024, 1, 2, 3, 4, 5, 678000, tzinfo=datetime.timezone.utc),
            "customer_ref": "c-7",
        },
        avro.io.BinaryEncoder(buf),
    )
    json.dump({"id1": id1, "id2": id2, "framed": base64.b64encode(buf.getvalue()).decode()}, sys.stdout)


if __name__ == "__main__":
    main()
