// The list scanner against JSON.parse: for any list, however its bytes are cut
// into chunks and however it is indented, each item comes out as JSON.parse
// reads it with the dropped keys' pairs removed (at any depth, first, middle
// or last in their object), and the list's metadata comes out whole.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { ListFormatError, ListScanner } from '../../src/k8s/list-scanner.js';

const DROP = new Set(['managedFields', 'targetRef', 'kubectl.kubernetes.io/last-applied-configuration']);

function withoutDropped(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(withoutDropped);
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).filter(([k]) => !DROP.has(k)).map(([k, x]) => [k, withoutDropped(x)]));
  return v;
}

/** Pushes `text` cut at `cuts`; returns what end() returns. */
function feed(scanner: ListScanner, text: string, cuts: number[]): unknown {
  const bytes = Buffer.from(text);
  let at = 0;
  for (const cut of [...cuts.map((c) => c % (bytes.length + 1))].sort((a, b) => a - b)) {
    scanner.push(bytes.subarray(at, cut));
    at = cut;
  }
  scanner.push(bytes.subarray(at));
  return scanner.end();
}

function scan(text: string, cuts: number[]): { items: unknown[]; metadata: unknown } {
  const items: unknown[] = [];
  const metadata = feed(new ListScanner((o) => items.push(o), DROP), text, cuts);
  return { items, metadata };
}

function scanEvents(text: string, cuts: number[]): unknown[] {
  const events: unknown[] = [];
  feed(ListScanner.events((e) => events.push(e), DROP), text, cuts);
  return events;
}

// Objects whose keys include the dropped ones, sometimes, with values of every kind.
// Near misses too: a dropped key's prefix, its extension, one byte changed, and keys longer than any dropped one.
const key = fc.oneof(fc.constantFrom(...DROP), fc.string({ maxLength: 8 }), fc.constantFrom('a"b', 'é', 'x\\y', 'items', 'metadata'),
  fc.constantFrom('managedField', 'managedFieldsX', 'targetReF', 'kubectl.kubernetes.io/last-applied-configuratioN', 'kubectl.kubernetes.io/last-applied-configuration/2', 'itemsAndMetadataAndMore'));
const value = fc.letrec((tie) => ({
  node: fc.oneof({ depthSize: 'small' },
    fc.jsonValue({ maxDepth: 0 }),
    fc.string(),
    // Longer than the scan's word, with any code point: quotes, backslashes and escapes at every offset.
    fc.string({ unit: 'binary', minLength: 7, maxLength: 40 }),
    fc.array(tie('node'), { maxLength: 4 }),
    fc.dictionary(key, tie('node'), { maxKeys: 5 })),
})).node;
const item = fc.dictionary(key, value, { maxKeys: 6 });

describe('ListScanner', () => {
  it('yields each item as JSON.parse does, without the dropped pairs, for any chunking and indentation', () => {
    fc.assert(fc.property(
      fc.array(item, { maxLength: 6 }), fc.array(fc.nat(), { maxLength: 8 }), fc.constantFrom(undefined, 1, '\t'),
      (items, cuts, indent) => {
        const list = { kind: 'ServiceList', apiVersion: 'v1', metadata: { resourceVersion: '42', continue: 'abc' }, items };
        const text = JSON.stringify(list, null, indent);
        const out = scan(text, cuts);
        expect(out.items).toEqual(JSON.parse(JSON.stringify(items)).map(withoutDropped));
        expect(out.metadata).toEqual({ resourceVersion: '42', continue: 'abc' });
      },
    ), { numRuns: 1000 });
  });

  it('finds items and metadata wherever they come in the list object', () => {
    const text = '{"items":[{"metadata":{"name":"a","managedFields":[{"x":1}]}}],"metadata":{"resourceVersion":"7"},"kind":"List"}';
    expect(scan(text, [5, 17, 40])).toEqual({ items: [{ metadata: { name: 'a' } }], metadata: { resourceVersion: '7' } });
  });

  it('reads a watch stream: each event, one per line, as JSON.parse does, without the dropped pairs, for any chunking', () => {
    fc.assert(fc.property(
      fc.array(fc.record({ type: fc.constantFrom('ADDED', 'MODIFIED', 'DELETED', 'BOOKMARK'), object: item }), { maxLength: 6 }),
      fc.array(fc.nat(), { maxLength: 8 }), fc.constantFrom('\n', '\r\n', '\n\n'),
      (events, cuts, newline) => {
        const text = events.map((e) => JSON.stringify(e) + newline).join('');
        expect(scanEvents(text, cuts)).toEqual(JSON.parse(JSON.stringify(events)).map(withoutDropped));
      },
    ), { numRuns: 500 });
  });

  it('refuses a watch stream of anything but objects, or one that ends inside an event', () => {
    expect(() => scanEvents('{"type":"ADDED"}\nhello\n', [])).toThrow(/not a JSON object/);
    expect(() => scanEvents('[{"type":"ADDED"}]\n', [])).toThrow(/not a JSON object/);
    expect(() => scanEvents('"ADDED"\n', [])).toThrow(/not a JSON object/);
    expect(() => scanEvents('{"type":"ADDED","object":{"a":1,,}}\n', [])).toThrow(/an event is not JSON/);
    expect(() => scanEvents('{"type":"ADDED","obj', [3])).toThrow(/ended inside its JSON/);
    // A line cut short, as the line after it arrives: malformed at once, not read on into the next event.
    expect(() => scanEvents('{"type":"MODIFIED","object":{"endpoints":[{"addr\n{"type":"ADDED","object":{}}\n', [])).toThrow(/ends before its line/);
    expect(() => scanEvents('{"type":"MODIFIED","object":{"a":1\n{"type":"ADDED","object":{}}\n', [20])).toThrow(/ends before its line/);
    // So too inside a dropped pair, which is skipped, not read: in one of its strings, or between its values.
    expect(() => scanEvents('{"type":"MODIFIED","object":{"managedFields":[{"f:spec":"abcdefghij\n{"type":"ADDED","object":{}}\n', [])).toThrow(/ends before its line/);
    expect(() => scanEvents('{"type":"MODIFIED","object":{"managedFields":[{"f:spec":{}},\n{"type":"ADDED","object":{}}\n', [40])).toThrow(/ends before its line/);
  });

  it('refuses what is not a list of objects, or ends early', () => {
    expect(() => scan('{"items":[1,[2]]}', [])).toThrow(ListFormatError);
    expect(() => scan('{"items":[{"a":1}', [])).toThrow(/ended inside its JSON/);
    expect(() => scan('{"items":[{"a":1,}]}', [])).toThrow(/an element of the list is not JSON/);
  });
});
