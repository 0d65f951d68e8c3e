// The Node.js peer of bench/session_receive_rate: the `ws` package reading the same flood
// of binary messages over TLS, counting them from the first to the last.
//
//   node session_receive_node.js PORT CA_FILE COUNT
// prints: "<messages> <seconds>"
'use strict';
const fs = require('fs');
const WebSocket = require('ws');

const [port, caFile, countText] = process.argv.slice(2);
const count = Number(countText);
const ws = new WebSocket(`wss://127.0.0.1:${port}/connection/t/org/1?token=x`, {
  ca: fs.readFileSync(caFile),
  perMessageDeflate: false,
  maxPayload: 1 << 20,
});
let messages = 0;
let first = 0n;
ws.binaryType = 'nodebuffer';
ws.on('message', (data) => {
  if (messages++ === 0) first = process.hrtime.bigint();
  if (data[0] !== 0x06) throw new Error('not a device message');
  if (messages === count) {
    const seconds = Number(process.hrtime.bigint() - first) / 1e9;
    process.stdout.write(`${messages} ${seconds}\n`);
    ws.close(1000);
  }
});
ws.on('error', (e) => {
  process.stderr.write(`node peer: ${e.message}\n`);
  process.exit(1);
});
