// The Node.js peer of bench/rest_rate: the same sequential GETs on one keep-alive
// connection with Node's `https` module, each body parsed with JSON.parse.
// Usage: node rest_rate_peer.js <base_url> <token> <ca_file> <path> <count>
// Prints a human line and "rate <requests per second>".
'use strict';

const fs = require('fs');
const https = require('https');

const [baseUrl, token, caFile, path, countText] = process.argv.slice(2);
const count = Number(countText);
if (!baseUrl || !token || !caFile || !path || !(count > 0)) {
  console.error('usage: node rest_rate_peer.js <base_url> <token> <ca_file> <path> <count>');
  process.exit(2);
}
const url = new URL(baseUrl);
const agent = new https.Agent({ keepAlive: true, maxSockets: 1, ca: fs.readFileSync(caFile) });

function get() {
  return new Promise((resolve, reject) => {
    const req = https.request(
      { hostname: url.hostname, port: url.port, path, method: 'GET', agent, headers: { token } },
      (res) => {
        const chunks = [];
        res.on('data', (chunk) => chunks.push(chunk));
        res.on('end', () => {
          try {
            const body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
            if (res.statusCode !== 200 || body.code !== 200) {
              reject(new Error(`HTTP ${res.statusCode}, code ${body.code}`));
            } else {
              resolve(body);
            }
          } catch (e) {
            reject(e);
          }
        });
        res.on('error', reject);
      });
    req.on('error', reject);
    req.end();
  });
}

async function main() {
  await get(); // connect before timing
  const start = process.hrtime.bigint();
  for (let i = 0; i < count; ++i) {
    const body = await get();
    if (!body.data || !Array.isArray(body.data.items)) throw new Error('no items');
  }
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  console.log(`node ${process.version}: ${count} requests in ${seconds.toFixed(3)} s = ` +
              `${(count / seconds).toFixed(0)} req/s`);
  console.log(`rate ${count / seconds}`);
  agent.destroy();
}

main().catch((e) => {
  console.error(`rest_rate_peer: ${e.message}`);
  process.exit(1);
});
