// Calls `onChange` when any of a bundle's source files changes. Watches their directories, not
// the files, because editors often save by replacing a file, which ends a per-file watch.
import { existsSync, statSync, watch, type FSWatcher } from 'node:fs';
import path from 'node:path';

// After a failed build, a file event in a watched folder counts if its name could be source: a
// log, a database or an editor's swap file written beside the code must not rebuild (a dev
// server logging into its own folder rebuilt 90 times in 5 s on each build error), nor can
// JSON count, which a log may be too. A folder counts: an import may need it.
const SOURCE_NAME = /\.(?:[cm]?[jt]sx?)$/i;

function isSourceOrFolder(file: string): boolean {
  if (SOURCE_NAME.test(file)) return true;
  try {
    return statSync(file).isDirectory();
  } catch {
    return false;
  }
}

export class SourceWatcher {
  #watchers = new Map<string, FSWatcher>();
  #files = new Set<string>();
  /** After a failed build: any source-like file event in the watched folders counts (a missing import created). */
  #anyFile = false;
  #timer: NodeJS.Timeout | undefined;
  readonly #onChange: () => void;

  constructor(onChange: () => void) {
    this.#onChange = onChange;
  }

  /**
   * Replace the watched set with `files`. A rebuild a save already asked for still comes: the
   * save may be newer than what was built. Files in node_modules are watched too, as wrangler's
   * esbuild watches them: a package updated by `npm install`, or edited to debug it, must not
   * leave the old code served (a 2 MB bundle's 1,800 files lie in ~200 folders, a watch each).
   */
  set(files: string[]): void {
    this.#unwatch();
    this.#anyFile = false;
    this.#files = new Set(files);
    const dirs = new Set([...this.#files].map((f) => path.dirname(f)));
    for (const dir of dirs) this.#watch(dir);
  }

  #warned = false;

  /** Out of inotify watches or descriptors: edits there would be missed without a word. Said once. */
  #cannotWatch(err: unknown): void {
    const code = (err as NodeJS.ErrnoException).code;
    if (this.#warned || (code !== 'ENOSPC' && code !== 'EMFILE')) return;
    this.#warned = true;
    console.warn(`islet dev: cannot watch every source folder (${code}: the system's limit on file watches); edits there are missed until a restart. Raise fs.inotify.max_user_watches, or watch fewer files.`);
  }

  #watch(dir: string): void {
    this.#watchers.get(dir)?.close();
    this.#watchers.delete(dir);
    let w: FSWatcher;
    try {
      w = watch(dir, (_event, name) => {
        if (!name) return;
        const file = name.toString();
        const full = path.join(dir, file);
        if (this.#files.has(full) || (this.#anyFile && isSourceOrFolder(full))) this.#debounce();
      });
    } catch (err) {
      this.#cannotWatch(err);
      return; // a folder that is gone: nothing there to wait for
    }
    w.on('error', (err) => this.#cannotWatch(err));
    this.#watchers.set(dir, w);
  }

  /**
   * The last build failed: rebuild on any change in the watched folders, not only to known
   * files, since the fix may be a file that does not exist yet (an import that could not be
   * resolved), and in the folders of the files its errors point at (a new import's folder, which
   * no good build has read yet). Those folders are watched anew even if they were already: one
   * deleted and made again is another folder, and the old watch sees nothing more. The next
   * successful build's `set` narrows it again.
   */
  broken(errorFiles: string[] = []): void {
    this.#anyFile = true;
    for (const file of errorFiles) {
      if (file.includes(`${path.sep}node_modules${path.sep}`)) continue;
      // The file an error points at is watched by name whatever its kind (a config.json with a
      // trailing comma, fixed, must rebuild though JSON is not taken as source in broken mode).
      this.#files.add(file);
      // A missing import's folder may not exist yet either: its nearest existing parent sees it made.
      let dir = path.dirname(file);
      while (!existsSync(dir) && path.dirname(dir) !== dir) dir = path.dirname(dir);
      this.#watch(dir);
    }
  }

  // Saves arrive as several events (truncate, write, rename): rebuild once they have settled.
  #debounce(): void {
    clearTimeout(this.#timer);
    this.#timer = setTimeout(this.#onChange, 50);
  }

  #unwatch(): void {
    for (const w of this.#watchers.values()) w.close();
    this.#watchers.clear();
  }

  close(): void {
    clearTimeout(this.#timer);
    this.#unwatch();
  }
}
