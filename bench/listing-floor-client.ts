// node listing-floor-client.js SERVER TOKEN: run in the agent's namespace,
// pages through the agent's four lists once (api-lists.ts) and prints, as
// JSON, how long that took from the first request to the last page parsed.
import { pageThroughLists } from './api-lists.js';

const [server, token] = process.argv.slice(2);
const t0 = performance.now();
const listed = await pageThroughLists(server, token);
process.stdout.write(`${JSON.stringify({ ms: performance.now() - t0, ...listed })}\n`);
// The list requests' keep-alive sockets would hold the process open.
process.exit(0);
