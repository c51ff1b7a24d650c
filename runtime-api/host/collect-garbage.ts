// A full collection from inside an isolate, without --expose-gc (which puts a `gc` that cannot be
// deleted on every tenant's global object): V8's low-memory collection, which isolated-vm runs
// before it refuses an ArrayBuffer past the isolate's memory limit. Asking for one bigger than
// any limit (1 TiB) runs the collection, then fails harmlessly. It also shrinks the young
// generation and flushes unused bytecode (~25 ms of the isolate's thread).
export function collectGarbageNow(): void {
  try {
    new ArrayBuffer(2 ** 40);
  } catch {
    // "Array buffer allocation failed", after the collection: the expected outcome.
  }
}
