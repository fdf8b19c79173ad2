// Echo server for e2e tests. Usage: node echo-server.mjs <port> [<port>...]
//
// For every TCP connection it writes "<localAddr> <localPort> <peerAddr> <peerPort>\n"
// and closes; every UDP datagram is answered with the same line. Prints READY once
// every socket is listening.
//
// TCP listens on the wildcards: accept() tells us the real local address.
// UDP is different: Node has no IP_PKTINFO, so a wildcard UDP socket cannot tell
// which address a datagram was sent to, and its replies get a kernel-chosen source.
// So UDP binds one socket per local address (what the tests look at), plus a
// SO_REUSEADDR wildcard catch-all for addresses added later (the kernel prefers the
// most specific bound socket). The catch-all reports the wildcard as localAddr.
import net from 'node:net';
import dgram from 'node:dgram';
import os from 'node:os';

const ports = process.argv.slice(2).map(Number);
if (ports.length === 0 || ports.some((p) => !Number.isInteger(p) || p <= 0 || p > 65535)) {
  console.error('usage: node echo-server.mjs <port> [<port>...]');
  process.exit(2);
}

const plain = (a) => (a && a.startsWith('::ffff:') && a.includes('.') ? a.slice(7) : a);
const line = (la, lp, ra, rp) => `${plain(la)} ${lp} ${plain(ra)} ${rp}\n`;

// Local unicast addresses; link-local v6 would need a scope id to bind, skip it.
function localAddresses() {
  const out = [];
  for (const list of Object.values(os.networkInterfaces())) {
    for (const i of list ?? []) {
      if (i.family === 'IPv6' && i.address.toLowerCase().startsWith('fe80')) continue;
      out.push({ address: i.address, type: i.family === 'IPv4' ? 'udp4' : 'udp6' });
    }
  }
  return out;
}

function tcp(host, port) {
  return new Promise((resolve, reject) => {
    const srv = net.createServer((s) => {
      s.on('error', () => {}); // peer resets are not our problem
      s.end(line(s.localAddress, s.localPort, s.remoteAddress, s.remotePort));
    });
    srv.once('error', reject);
    srv.listen({ host, port, ipv6Only: host === '::' }, resolve);
  });
}

function udp(type, address, port) {
  return new Promise((resolve, reject) => {
    const s = dgram.createSocket({ type, reuseAddr: true, ipv6Only: type === 'udp6' });
    s.on('message', (_msg, rinfo) => {
      s.send(line(address, port, rinfo.address, rinfo.port), rinfo.port, rinfo.address);
    });
    s.once('error', reject);
    s.bind({ address, port }, () => {
      s.removeListener('error', reject);
      s.on('error', (e) => console.error(`udp ${address}:${port}: ${e.message}`));
      resolve();
    });
  });
}

const work = [];
for (const port of ports) {
  work.push(tcp('0.0.0.0', port), tcp('::', port));
  work.push(udp('udp4', '0.0.0.0', port), udp('udp6', '::', port));
  for (const a of localAddresses()) work.push(udp(a.type, a.address, port));
}
try {
  await Promise.all(work);
} catch (e) {
  console.error(`echo-server: ${e.message}`);
  process.exit(1);
}
process.stdout.write('READY\n');
process.on('SIGTERM', () => process.exit(0));
