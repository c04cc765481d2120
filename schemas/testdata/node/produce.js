// Produces records with kafkajs, each value encoded and framed (Confluent
// wire format) by @kafkajs/confluent-schema-registry after registering its
// writer schema with reckon's embedded registry.
//
//   node produce.js REGISTRY_URL BROKERS < RECORDS_JSONL
//     BROKERS is comma-separated. Each line of stdin is
//       {"topic", "partition", "key", "subject", "schema", "value"}
//     (other fields are ignored), with the value in avsc's plain form
//     (unions unwrapped, timestamps as epoch milliseconds). The records
//     of a partition are produced in the order of the lines. Prints {"produced": N, "ids": [...]}, the ids
//     being the schema ids the registry returned.
'use strict';

const readline = require('readline');
const { SchemaRegistry, SchemaType } = require('@kafkajs/confluent-schema-registry');
const { Kafka, logLevel } = require('kafkajs');

async function main() {
  const [host, brokers] = process.argv.slice(2);
  const registry = new SchemaRegistry({ host, retry: { retries: 0 } });
  const ids = new Map(); // subject + schema → id
  const byTopic = new Map(); // topic → messages, in line order
  let produced = 0;
  for await (const line of readline.createInterface({ input: process.stdin, crlfDelay: Infinity })) {
    if (line.trim() === '') continue;
    const r = JSON.parse(line);
    const cacheKey = `${r.subject}\n${r.schema}`;
    let id = ids.get(cacheKey);
    if (id === undefined) {
      ({ id } = await registry.register({ type: SchemaType.AVRO, schema: r.schema }, { subject: r.subject }));
      ids.set(cacheKey, id);
    }
    const value = await registry.encode(id, r.value);
    if (!byTopic.has(r.topic)) byTopic.set(r.topic, []);
    byTopic.get(r.topic).push({ partition: r.partition, key: r.key, value });
    produced++;
  }

  const kafka = new Kafka({
    clientId: 'reckon-interop',
    brokers: brokers.split(','),
    logLevel: logLevel.ERROR,
    logCreator: () => ({ namespace, log }) => console.error(`${namespace}: ${log.message}`),
  });
  // One in-flight request per broker and idempotence: the records of a
  // partition land in the order given.
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  try {
    const topicMessages = [...byTopic].map(([topic, messages]) => ({ topic, messages }));
    await producer.sendBatch({ topicMessages, acks: -1 });
  } finally {
    await producer.disconnect();
  }
  process.stdout.write(JSON.stringify({ produced, ids: [...new Set(ids.values())].sort((a, b) => a - b) }));
}

main().catch((err) => {
  console.error(err && err.stack ? err.stack : err);
  process.exit(1);
});
