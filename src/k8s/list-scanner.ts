// Reads a Kubernetes list response as its bytes arrive: every element of the
// top-level "items" array is handed on as soon as its chunk is read, parsed
// on its own, with the pairs whose keys svcrouter never reads cut out of its
// JSON before parsing (managedFields, last-applied-configuration, Pod
// targetRefs). So a page is never one large string (which V8 keeps in old
// space until a full collection), and the bulk of a real object is never
// turned into objects at all. The byte scan is C (list-scanner-addon.c): at
// 10k services a real API server's lists are 63 MB, and scanning them in
// JavaScript took about as long as paging through them. A watch's stream of
// events is read the same way, each event an item (ListScanner.events).
import { loadAddon } from '../kernel/addon.js';

export class ListFormatError extends Error {}

interface Addon {
  create(drop: string[], events: boolean): object;
  /** What the chunk completed, in order: 0 an item's JSON, 1 the metadata's, 2 the format error the scan stopped at. */
  push(scanner: object, chunk: Buffer): [kind: 0 | 1 | 2, text: string][];
  /** An error when the list ended inside its JSON. */
  end(scanner: object): string | null;
}

let addon: Addon | undefined;

export class ListScanner {
  private readonly scanner: object;
  private metadata: Record<string, unknown> = {};

  constructor(
    private readonly onItem: (item: Record<string, unknown>) => void,
    drop: ReadonlySet<string>,
    /** The list's metadata, as soon as it has arrived (an API server sends it before the items). */
    private readonly onMetadata: (metadata: Record<string, unknown>) => void = () => {},
    private readonly events = false,
  ) {
    addon ??= loadAddon<Addon>('list-scanner');
    this.scanner = addon.create([...drop], events);
  }

  /** A scanner of a watch's stream: each event, a JSON object, to onEvent as soon as it has arrived whole. */
  static events(onEvent: (event: Record<string, unknown>) => void, drop: ReadonlySet<string>): ListScanner {
    return new ListScanner(onEvent, drop, undefined, true);
  }

  push(chunk: Buffer): void {
    for (const [kind, text] of addon!.push(this.scanner, chunk)) {
      if (kind === 2) throw new ListFormatError(text);
      let value: Record<string, unknown>;
      try {
        value = JSON.parse(text) as Record<string, unknown>;
      } catch (e) {
        throw new ListFormatError(`${this.events ? 'an event' : 'an element of the list'} is not JSON: ${(e as Error).message}`);
      }
      if (kind === 1) {
        this.metadata = value;
        this.onMetadata(value);
      } else this.onItem(value);
    }
  }

  /** The list's metadata, once the whole response has been read. */
  end(): Record<string, unknown> {
    const error = addon!.end(this.scanner);
    if (error) throw new ListFormatError(error);
    return this.metadata;
  }
}
