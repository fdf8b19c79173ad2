// Probe client for e2e tests. Reads a JSON array of probes on stdin:
//   {proto:'tcp'|'udp', addr, port, src?, timeoutMs? = 1500}
// and writes a JSON array of results, in the same order:
//   {outcome:'ok', reply:{localAddr, localPort, peerAddr, peerPort}}
//   {outcome:'refused'} | {outcome:'timeout'} | {outcome:'error', message}
// The reply is the echo-server line: localAddr is where the server was reached,
// peerAddr is the source address it saw.
import net from 'node:net';
import dgram from 'node:dgram';

const MAX_IN_FLIGHT = 64;

function parseReply(text) {
  const [localAddr, localPort, peerAddr, peerPort] = text.trim().split(' ');
  if (peerPort === undefined) return { outcome: 'error', message: `bad reply: ${JSON.stringify(text)}` };
  return {
    outcome: 'ok',
    reply: { localAddr, localPort: Number(localPort), peerAddr, peerPort: Number(peerPort) },
  };
}

function fromError(e) {
  if (e.code === 'ECONNREFUSED') return { outcome: 'refused' };
  return { outcome: 'error', message: `${e.code ?? 'ERROR'}: ${e.message}` };
}

function probeTcp(p, timeoutMs) {
  return new Promise((resolve) => {
    let data = '';
    let done = false;
    const finish = (r) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      sock.destroy();
      resolve(r);
    };
    const opts = { host: p.addr, port: p.port };
    if (p.src) opts.localAddress = p.src;
    const sock = net.connect(opts);
    const timer = setTimeout(() => finish({ outcome: 'timeout' }), timeoutMs);
    sock.setEncoding('utf8');
    sock.on('data', (d) => (data += d));
    sock.on('end', () => finish(parseReply(data)));
    sock.on('error', (e) => finish(fromError(e)));
  });
}

function probeUdp(p, timeoutMs) {
  return new Promise((resolve) => {
    const type = net.isIPv6(p.addr) ? 'udp6' : 'udp4';
    const sock = dgram.createSocket(type);
    const timers = [];
    let done = false;
    const finish = (r) => {
      if (done) return;
      done = true;
      timers.forEach(clearTimeout);
      sock.close();
      resolve(r);
    };
    const send = () => sock.send('probe', (e) => e && finish(fromError(e)));
    sock.on('message', (msg) => finish(parseReply(msg.toString('utf8'))));
    // A *connected* UDP socket is what lets the kernel surface an ICMP port
    // unreachable as ECONNREFUSED (on recv, emitted here as 'error', or on send).
    sock.on('error', (e) => finish(fromError(e)));
    sock.on('connect', () => {
      send();
      // Datagrams can be lost (e.g. while ARP/ND resolves), so resend twice.
      timers.push(setTimeout(send, timeoutMs / 3), setTimeout(send, (2 * timeoutMs) / 3));
    });
    timers.push(setTimeout(() => finish({ outcome: 'timeout' }), timeoutMs));
    sock.bind({ address: p.src, port: 0 }, () => sock.connect(p.port, p.addr));
  });
}

async function runOne(p) {
  const timeoutMs = p.timeoutMs ?? 1500;
  try {
    if (p.proto === 'tcp') return await probeTcp(p, timeoutMs);
    if (p.proto === 'udp') return await probeUdp(p, timeoutMs);
    return { outcome: 'error', message: `unknown proto ${JSON.stringify(p.proto)}` };
  } catch (e) {
    return fromError(e); // synchronous throws, e.g. an invalid address
  }
}

let input = '';
for await (const chunk of process.stdin) input += chunk;
const probes = JSON.parse(input);
const results = new Array(probes.length);
let next = 0;
async function worker() {
  while (next < probes.length) {
    const i = next++;
    results[i] = await runOne(probes[i]);
  }
}
await Promise.all(Array.from({ length: Math.min(MAX_IN_FLIGHT, probes.length) }, worker));
process.stdout.write(JSON.stringify(results) + '\n');
