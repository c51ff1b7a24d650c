// Calls `onChange` when any of a bundle's source files changes. Watches their directories, not
// the files, because editors often save by replacing a file, which ends a per-file watch.
import { watch, type FSWatcher } from 'node:fs';
import path from 'node:path';

export class SourceWatcher {
  #watchers: FSWatcher[] = [];
  #files = new Set<string>();
  /** After a failed build: any file event in the watched folders counts (a missing import created). */
  #anyFile = false;
  #timer: NodeJS.Timeout | undefined;
  readonly #onChange: () => void;

  constructor(onChange: () => void) {
    this.#onChange = onChange;
  }

  /** Replace the watched set with `files` (node_modules are left out: they rarely change). */
  set(files: string[]): void {
    this.close();
    this.#anyFile = false;
    this.#files = new Set(files.filter((f) => !f.includes(`${path.sep}node_modules${path.sep}`)));
    const dirs = new Set([...this.#files].map((f) => path.dirname(f)));
    for (const dir of dirs) {
      const w = watch(dir, (_event, name) => {
        if (name && (this.#anyFile || this.#files.has(path.join(dir, name.toString())))) this.#debounce();
      });
      w.on('error', () => {});
      this.#watchers.push(w);
    }
  }

  /**
   * The last build failed: rebuild on any change in the watched folders, not only to known
   * files, since the fix may be a file that does not exist yet (an import that could not be
   * resolved). The next successful build's `set` narrows it again.
   */
  broken(): void {
    this.#anyFile = true;
  }

  // Saves arrive as several events (truncate, write, rename): rebuild once they have settled.
  #debounce(): void {
    clearTimeout(this.#timer);
    this.#timer = setTimeout(this.#onChange, 50);
  }

  close(): void {
    clearTimeout(this.#timer);
    for (const w of this.#watchers) w.close();
    this.#watchers = [];
  }
}
