/**
 * The bytes a connection has received before its route is chosen (the ClientHello and whatever follows it in the
 * same reads), kept once, to be forwarded to the backend or handed to the TLS layer.
 *
 * Held at about the bytes received, whatever the client's pace: a chunk of a useful size is kept as it arrived (no
 * copy), while small chunks — a hello dribbled a few bytes per segment — are copied into a slab, because a Buffer
 * object per byte would cost a hundred times the byte. `heldBytes` is what the hello-phase byte budget charges
 * (src/limits.ts): chunk sizes plus slab capacity, so dribbling cannot hold more than it pays for.
 */

/** Chunks below this are copied into a slab instead of being kept as their own Buffer (a tuning choice). */
const SMALL_CHUNK_BYTES = 512;
/** A slab starts at this size and doubles with the bytes held, up to SLAB_MAX_BYTES. */
const SLAB_MIN_BYTES = 1024;
const SLAB_MAX_BYTES = 16 * 1024;

export class HelloBytes {
  /** Kept chunks in arrival order; a slab appears once, as the view of its filled part (updated as it fills). */
  #chunks: Buffer[] = [];
  #slab: Buffer | null = null;
  #slabFilled = 0;
  #slabIndex = -1;
  #held = 0;
  #received = 0;

  /** Bytes of memory this buffer holds (what the budget charges). */
  get heldBytes(): number {
    return this.#held;
  }

  /** Bytes received. */
  get receivedBytes(): number {
    return this.#received;
  }

  /**
   * Keeps `chunk` and returns where its bytes now live (the chunk itself, or its copy in the slab): push that to the
   * ClientHelloReader, whose views then point into this buffer's memory rather than into a short-lived chunk.
   */
  append(chunk: Buffer): Buffer {
    this.#received += chunk.length;
    if (chunk.length >= SMALL_CHUNK_BYTES) {
      this.#chunks.push(chunk);
      this.#held += chunk.length;
      this.#slab = null; // order matters: later small chunks go to a new slab after this chunk
      return chunk;
    }
    let slab = this.#slab;
    if (slab === null || slab.length - this.#slabFilled < chunk.length) {
      const size = Math.min(SLAB_MAX_BYTES, Math.max(SLAB_MIN_BYTES, this.#held));
      slab = Buffer.allocUnsafeSlow(size); // not from the shared pool: a slab must not pin (or be pinned by) others
      this.#slab = slab;
      this.#slabFilled = 0;
      this.#slabIndex = this.#chunks.length;
      this.#chunks.push(slab.subarray(0, 0));
      this.#held += size;
    }
    const start = this.#slabFilled;
    chunk.copy(slab, start);
    this.#slabFilled = start + chunk.length;
    this.#chunks[this.#slabIndex] = slab.subarray(0, this.#slabFilled);
    return slab.subarray(start, this.#slabFilled);
  }

  /** The bytes in order, and the buffer emptied (its memory is the caller's from here). */
  take(): Buffer[] {
    const chunks = this.#chunks;
    this.clear();
    return chunks;
  }

  clear(): void {
    this.#chunks = [];
    this.#slab = null;
    this.#slabFilled = 0;
    this.#slabIndex = -1;
    this.#held = 0;
    this.#received = 0;
  }
}
