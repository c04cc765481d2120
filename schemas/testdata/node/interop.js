// Drives reckon's embedded schema registry with @kafkajs/confluent-schema-registry,
// whose Avro codec is avsc, an implementation independent of reckon's.
//
//   node interop.js encode URL SUBJECT SCHEMA_FILE RECORD_JSON
//     registers the schema under SUBJECT, encodes the record with it and
//     prints {"id": …, "framed": base64} (Confluent wire format).
//   node interop.js decode URL FRAMED_BASE64
//     fetches the writer schema by the id in the frame and prints the
//     decoded record as JSON.
'use strict';

const fs = require('fs');
const { SchemaRegistry, SchemaType } = require('@kafkajs/confluent-schema-registry');

async function main() {
  const [mode, host, ...args] = process.argv.slice(2);
  const registry = new SchemaRegistry({ host, retry: { retries: 0 } });
  if (mode === 'encode') {
    const [subject, schemaFile, record] = args;
    const schema = fs.readFileSync(schemaFile, 'utf8');
    const { id } = await registry.register({ type: SchemaType.AVRO, schema }, { subject });
    const framed = await registry.encode(id, JSON.parse(record));
    process.stdout.write(JSON.stringify({ id, framed: framed.toString('base64') }));
  } else if (mode === 'decode') {
    const value = await registry.decode(Buffer.from(args[0], 'base64'));
    process.stdout.write(JSON.stringify(value));
  } else {
    throw new Error(`unknown mode ${mode}`);
  }
}

main().catch((err) => {
  console.error(err && err.stack ? err.stack : err);
  process.exit(1);
});
