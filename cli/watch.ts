// Calls `onChange` when any of a bundle's source files changes. Watches their directories, not
// the files, because editors often save by replacing a file, which ends a per-file watch.
import { existsSync, watch, type FSWatcher } from 'node:fs';
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
    for (const dir of dirs) this.#watch(dir);
  }

  #watch(dir: string): void {
    let w: FSWatcher;
    try {
      w = watch(dir, (_event, name) => {
        if (name && (this.#anyFile || this.#files.has(path.join(dir, name.toString())))) this.#debounce();
      });
    } catch {
      return; // a folder that is gone: nothing there to wait for
    }
    w.on('error', () => {});
    this.#watchers.push(Object.assign(w, { dir }));
  }

  /**
   * The last build failed: rebuild on any change in the watched folders, not only to known
   * files, since the fix may be a file that does not exist yet (an import that could not be
   * resolved), and in the folders of the files its errors point at (a new import's folder, which
   * no good build has read yet). The next successful build's `set` narrows it again.
   */
  broken(errorFiles: string[] = []): void {
    this.#anyFile = true;
    const watched = new Set(this.#watchers.map((w) => (w as FSWatcher & { dir?: string }).dir));
    for (const file of errorFiles) {
      if (file.includes(`${path.sep}node_modules${path.sep}`)) continue;
      // A missing import's folder may not exist yet either: its nearest existing parent sees it made.
      let dir = path.dirname(file);
      while (!existsSync(dir) && path.dirname(dir) !== dir) dir = path.dirname(dir);
      if (watched.has(dir)) continue;
      watched.add(dir);
      this.#watch(dir);
    }
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
