/** Every timer the simulator starts goes through here, so reset and close can cancel them all. */
export class Timers {
  readonly #handles = new Set<NodeJS.Timeout>();
  #closed = false;

  schedule(run: () => void, delayMs: number): void {
    if (this.#closed) return;
    const handle = setTimeout(() => {
      this.#handles.delete(handle);
      run();
    }, delayMs);
    // Pending callbacks must not keep a process (or a test run) alive on their own.
    handle.unref();
    this.#handles.add(handle);
  }

  get pending(): number {
    return this.#handles.size;
  }

  clear(): void {
    for (const handle of this.#handles) clearTimeout(handle);
    this.#handles.clear();
  }

  close(): void {
    this.#closed = true;
    this.clear();
  }
}
