import type { Backend, Storage } from './backend/types.js';
import { bytesPerElement } from './backend/types.js';
import { engine } from './engine.js';

/**
 * A backend storage shared by several tensors (a reshape, a value saved for backward) and released
 * to its backend when the last holder lets go. This is what makes reshape free and lets the tape
 * keep what it needs after the user disposes an intermediate.
 */
export class StorageRef {
  private refs = 1;

  constructor(
    readonly backend: Backend,
    readonly storage: Storage,
  ) {
    engine.liveBytes += this.bytes;
    engine.liveStorages++;
  }

  get bytes(): number {
    return this.storage.length * bytesPerElement(this.storage.dtype);
  }

  get released(): boolean {
    return this.refs === 0;
  }

  retain(): this {
    this.refs++;
    return this;
  }

  release(): void {
    if (this.refs === 0) return;
    this.refs--;
    if (this.refs === 0) {
      engine.liveBytes -= this.bytes;
      engine.liveStorages--;
      this.backend.release(this.storage);
    }
  }
}
