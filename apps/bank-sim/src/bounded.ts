/** Memory is bounded: every store keeps at most its named maximum of entries. */

/** Keeps a Map to at most `max` entries by dropping the oldest (Maps iterate in insertion order). */
export function setBounded<K, V>(map: Map<K, V>, key: K, value: V, max: number): void {
  map.set(key, value);
  while (map.size > max) {
    const oldest = map.keys().next();
    if (oldest.done === true) break;
    map.delete(oldest.value);
  }
}
