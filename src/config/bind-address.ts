// "host:port" as kube-proxy's bind-address flags take it.

/** "0.0.0.0:10256", "[::]:10256", ":10256" (all addresses), "127.0.0.1:0". */
export function parseBindAddress(s: string): { host: string; port: number } {
  const m = /^\[([^\]]+)\]:(\d{1,5})$/.exec(s) ?? /^([^:[\]]*):(\d{1,5})$/.exec(s);
  if (!m || Number(m[2]) > 65535) throw new Error(`bind address ${JSON.stringify(s)}: want host:port or [ipv6]:port`);
  return { host: m[1]!, port: Number(m[2]) };
}
