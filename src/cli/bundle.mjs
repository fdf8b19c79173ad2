// Builds dist/cli/main.js, the bin: the CLI and every module it uses in one
// ES module, whitespace and comments minified (deploy/README.md says why).
//
// Of @kubernetes/client-node, svcrouter uses KubeConfig and the auth it
// applies, and imports it from config.js rather than the package's index,
// which pulls in every API client, model, watch and exec helper. config.js
// itself imports the generated API clients for makeApiClient() alone, which
// svcrouter never calls: that import is replaced by a module whose exports
// throw. At 10k Services that took about 90 ms off the agent's start and
// 5 MiB off its RSS.
//
// node-fetch, which config.js imports, takes whatwg-url's URL only where
// Node has none (`Url.URL || whatwgUrl.URL`): on Node 20 whatwg-url and its
// tr46 tables (a quarter of the bin) are loaded and never used, so node-fetch
// gets an empty module in its place.
import { chmodSync } from 'node:fs';
import { build } from 'esbuild';

const OUT = 'dist/cli/main.js';

/** An esbuild plugin resolving an import matching `specifier`, from a file matching `importer` (and from no other), to a module of `contents`. */
function replaceImport(name, importer, specifier, contents) {
  return {
    name,
    setup(b) {
      b.onResolve({ filter: specifier }, (a) => importer.test(a.importer) ? { path: name, namespace: name } : undefined);
      b.onLoad({ filter: /.*/, namespace: name }, () => ({ loader: 'js', contents }));
    },
  };
}

/** client-node's generated API clients, as config.js imports them, in place of which makeApiClient() throws. */
const noApiClients = replaceImport('no-api-clients', /@kubernetes[\\/]client-node[\\/]dist[\\/]config\.js$/, /^\.\/gen\/index\.js$/,
  `const omitted = () => { throw new Error("svcrouter's bundle has no Kubernetes API clients (KubeConfig.makeApiClient)"); };
  export const createConfiguration = omitted;
  export class ServerConfiguration { constructor() { omitted(); } }`);

/** whatwg-url, as node-fetch imports it for its fallback URL, in place of which it finds none and takes Node's. */
const noWhatwgUrl = replaceImport('no-whatwg-url', /node-fetch[\\/]lib[\\/]index\.js$/, /^whatwg-url$/, 'module.exports = {};');

await build({
  entryPoints: ['src/cli/main.ts'],
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  outfile: OUT,
  minifyWhitespace: true,
  charset: 'ascii',
  logLevel: 'warning',
  // Bundled CommonJS dependencies call require().
  banner: { js: "import { createRequire as svcrouterRequire } from 'node:module'; const require = svcrouterRequire(import.meta.url);" },
  plugins: [noApiClients, noWhatwgUrl],
});
chmodSync(OUT, 0o755);
