/**
 * @module
 * A byte-bounded LRU map (Map keeps insertion order; a hit re-inserts).
 */
export class ByteLru<V extends { byteLength: number }> {
  private readonly map = new Map<string, V>();
  private bytes = 0;
  readonly maxBytes: number;

  /** Called after every insert (a shared budget trims across several LRUs there). */
  onInsert: (() => void) | null = null;

  constructor(maxBytes: number) {
    this.maxBytes = maxBytes;
  }

  get size(): number {
    return this.map.size;
  }

  get byteLength(): number {
    return this.bytes;
  }

  get(key: string): V | undefined {
    const v = this.map.get(key);
    if (v !== undefined) {
      this.map.delete(key);
      this.map.set(key, v);
    }
    return v;
  }

  /** Presence, without making the entry recent. */
  has(key: string): boolean {
    return this.map.has(key);
  }

  set(key: string, value: V): void {
    if (value.byteLength > this.maxBytes) return;
    const old = this.map.get(key);
    if (old !== undefined) {
      this.bytes -= old.byteLength;
      this.map.delete(key);
    }
    this.map.set(key, value);
    this.bytes += value.byteLength;
    for (const [k, v] of this.map) {
      if (this.bytes <= this.maxBytes) break;
      this.map.delete(k);
      this.bytes -= v.byteLength;
    }
    this.onInsert?.();
  }

  /** Drops the least recently used entry; false when empty. */
  evictOldest(): boolean {
    for (const [k, v] of this.map) {
      this.map.delete(k);
      this.bytes -= v.byteLength;
      return true;
    }
    return false;
  }

  delete(key: string): void {
    const old = this.map.get(key);
    if (old !== undefined) {
      this.bytes -= old.byteLength;
      this.map.delete(key);
    }
  }

  clear(): void {
    this.map.clear();
    this.bytes = 0;
  }
}
