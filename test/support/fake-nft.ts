// An in-memory stand-in for one nft table family set, fed the same scripts the
// kernel gets. It understands exactly the commands svcrouter emits and fails
// where the kernel would (duplicate element, missing element or chain, a chain
// still referenced), so planner tests catch what `nft -f` would refuse.

interface FakeTable {
  sets: Map<string, { decl: string; elements: Map<string, string> }>;
  chains: Map<string, { base: string; rules: string[] }>;
}

export class FakeNft {
  private tables = new Map<string, FakeTable>();

  /** Apply a whole script atomically, like `nft -f`: on any error nothing changes. */
  apply(script: string): void {
    const copy = this.clone();
    try {
      for (const line of script.split('\n')) if (line.trim() !== '') this.command(line);
    } catch (e) {
      this.tables = copy;
      throw e;
    }
  }

  /** Canonical text of everything: sorted, so two paths to one state dump equal. */
  dump(): string {
    const out: string[] = [];
    for (const name of [...this.tables.keys()].sort()) {
      const t = this.tables.get(name)!;
      out.push(`table ${name}`);
      for (const c of [...t.chains.keys()].sort()) {
        const ch = t.chains.get(c)!;
        out.push(`  chain ${c} {${ch.base}}`, ...ch.rules.map((r) => `    ${r}`));
      }
      for (const s of [...t.sets.keys()].sort()) {
        const st = t.sets.get(s)!;
        out.push(`  set ${s} {${st.decl}}`, ...[...st.elements].sort().map(([k, v]) => `    ${k} => ${v}`));
      }
    }
    return out.join('\n');
  }

  private clone(): Map<string, FakeTable> {
    const m = new Map<string, FakeTable>();
    for (const [n, t] of this.tables) {
      m.set(n, {
        sets: new Map([...t.sets].map(([k, s]) => [k, { decl: s.decl, elements: new Map(s.elements) }])),
        chains: new Map([...t.chains].map(([k, c]) => [k, { base: c.base, rules: [...c.rules] }])),
      });
    }
    return m;
  }

  private command(line: string): void {
    const m = /^(add|delete|flush) (table|chain|set|map|rule|element) (ip6?) (\S+)(?: (\S+))?(?: (.*))?$/.exec(line);
    if (!m) throw new Error(`fake nft: cannot parse: ${line}`);
    const [, verb, what, fam, tname, name, rest] = m;
    const key = `${fam} ${tname}`;
    if (what === 'table') {
      if (verb === 'add') { if (!this.tables.has(key)) this.tables.set(key, { sets: new Map(), chains: new Map() }); return; }
      if (verb === 'delete') { if (!this.tables.delete(key)) throw new Error(`No such file or directory: table ${key}`); return; }
    }
    const t = this.tables.get(key);
    if (!t) throw new Error(`No such file or directory: table ${key}`);
    const body = [name, rest].filter((x) => x !== undefined).join(' ');
    switch (`${verb} ${what}`) {
      case 'add chain': {
        const n = name!;
        if (!t.chains.has(n)) t.chains.set(n, { base: rest ?? '', rules: [] });
        return;
      }
      case 'flush chain': return void (this.chain(t, name!).rules = []);
      case 'delete chain': {
        this.chain(t, name!);
        const users = [...t.chains].filter(([, c]) => c.rules.some((r) => refersTo(r, name!)));
        const setUsers = [...t.sets.values()].some((s) => [...s.elements.values()].some((v) => refersTo(v, name!)));
        if (users.length > 0 || setUsers) throw new Error(`Device or resource busy: chain ${name} is referenced`);
        t.chains.delete(name!);
        return;
      }
      case 'add rule': {
        const c = this.chain(t, name!);
        for (const target of targets(rest ?? '')) this.chain(t, target);
        for (const s of setRefs(rest ?? '')) if (!t.sets.has(s)) throw new Error(`No such file or directory: set ${s}`);
        c.rules.push(rest ?? '');
        return;
      }
      case 'delete set':
      case 'delete map': {
        if (!t.sets.has(name!)) throw new Error(`No such file or directory: set ${name}`);
        if ([...t.chains.values()].some((c) => c.rules.some((r) => setRefs(r).includes(name!)))) {
          throw new Error(`Device or resource busy: set ${name} is referenced`);
        }
        t.sets.delete(name!);
        return;
      }
      case 'add set':
      case 'add map':
        if (!t.sets.has(name!)) t.sets.set(name!, { decl: rest ?? '', elements: new Map() });
        return;
      case 'flush set':
      case 'flush map': {
        const s = t.sets.get(name!);
        if (!s) throw new Error(`No such file or directory: set ${name}`);
        s.elements.clear();
        return;
      }
      case 'add element':
      case 'delete element': {
        const s = t.sets.get(name!);
        if (!s) throw new Error(`No such file or directory: set ${name}`);
        for (const item of splitElements(rest ?? '')) {
          const [k, v] = splitElement(item);
          if (verb === 'add') {
            if (s.elements.has(k)) throw new Error(`File exists: element ${k} in ${name}`);
            for (const target of targets(v)) this.chain(t, target);
            s.elements.set(k, v);
          } else if (!s.elements.delete(k)) {
            throw new Error(`No such file or directory: element ${k} in ${name}`);
          }
        }
        return;
      }
    }
    throw new Error(`fake nft: unsupported command: ${verb} ${what} (${body})`);
  }

  private chain(t: FakeTable, name: string): { base: string; rules: string[] } {
    const c = t.chains.get(name);
    if (!c) throw new Error(`No such file or directory: chain ${name}`);
    return c;
  }
}

function targets(text: string): string[] {
  return [...text.matchAll(/\b(?:goto|jump) ([\w-]+)/g)].map((m) => m[1]!);
}

function setRefs(text: string): string[] {
  return [...text.matchAll(/@([\w-]+)/g)].map((m) => m[1]!);
}

function refersTo(text: string, chain: string): boolean {
  return targets(text).includes(chain);
}

function splitElements(rest: string): string[] {
  const inner = rest.trim().replace(/^\{\s*/, '').replace(/\s*\}$/, '');
  return inner.split(', ').filter((x) => x !== '');
}

function splitElement(item: string): [string, string] {
  const i = item.indexOf(' : ');
  const head = i < 0 ? item : item.slice(0, i);
  const data = i < 0 ? '' : item.slice(i + 3);
  const c = head.indexOf(' comment ');
  return c < 0 ? [head, data] : [head.slice(0, c), `${data} ${head.slice(c + 1)}`.trim()];
}
