// XHR "Interface FormData", over an entry list (HTML "entry list"), with HTML's
// "create an entry". A worker has no form elements, so the constructor takes
// no form, as in workerd.
import {
  defineInterface,
  defineIteratorPrototype,
  nullProto,
  requireArguments,
  toUSVString,
} from '../webidl/index.ts';
import { type Blob, blobBytes, blobType, createFile, type File, fileLastModified, isBlob, isFile } from './blob.ts';

export type FormDataEntryValue = File | string;
/** HTML "entry": a scalar value string name, and a scalar value string or a File. */
export type FormDataEntry = [name: string, value: FormDataEntryValue];

let entryListOf: (formData: FormData) => FormDataEntry[];
let adoptEntryList: (formData: FormData, entries: FormDataEntry[]) => void;
let isFormDataImpl: (value: object) => boolean;

/**
 * HTML "create an entry", after WebIDL overload resolution between
 * (name, value) and (name, blobValue, filename): three arguments pick the
 * Blob overload, two pick it when value is a Blob. A Blob becomes a File named
 * "blob", or filename; a File given a filename is copied under that name.
 */
function createEntry(argumentCount: number, name: unknown, value: unknown, filename: unknown, where: string): FormDataEntry {
  const blobOverload = argumentCount >= 3 || isBlob(value);
  const entryName = toUSVString(name);
  if (!blobOverload) return [entryName, toUSVString(value)];
  if (!isBlob(value)) throw new TypeError(`${where}: parameter 2 is not of type 'Blob'`);
  const givenFilename = filename === undefined ? undefined : toUSVString(filename);
  if (isFile(value) && givenFilename === undefined) return [entryName, value];
  // A blob's bytes never change, so the new File shares them.
  const lastModified = isFile(value) ? fileLastModified(value) : Date.now();
  return [entryName, createFile(blobBytes(value), givenFilename ?? 'blob', blobType(value), lastModified)];
}

export class FormData {
  #entries: FormDataEntry[] = [];

  constructor(form: undefined = undefined) {
    if (form !== undefined) throw new TypeError("Failed to construct 'FormData': there are no form elements in a worker");
  }

  append(name: string, value: string | Blob, filename: string | undefined = undefined): void {
    const where = "Failed to execute 'append' on 'FormData'";
    requireArguments(arguments.length, 2, where);
    this.#entries.push(createEntry(arguments.length, name, value, filename, where));
  }

  delete(name: string): void {
    const where = "Failed to execute 'delete' on 'FormData'";
    requireArguments(arguments.length, 1, where);
    const key = toUSVString(name);
    this.#entries = this.#entries.filter((entry) => entry[0] !== key);
  }

  get(name: string): FormDataEntryValue | null {
    const where = "Failed to execute 'get' on 'FormData'";
    requireArguments(arguments.length, 1, where);
    const key = toUSVString(name);
    return this.#entries.find((entry) => entry[0] === key)?.[1] ?? null;
  }

  getAll(name: string): FormDataEntryValue[] {
    const where = "Failed to execute 'getAll' on 'FormData'";
    requireArguments(arguments.length, 1, where);
    const key = toUSVString(name);
    return this.#entries.filter((entry) => entry[0] === key).map((entry) => entry[1]);
  }

  has(name: string): boolean {
    const where = "Failed to execute 'has' on 'FormData'";
    requireArguments(arguments.length, 1, where);
    const key = toUSVString(name);
    return this.#entries.some((entry) => entry[0] === key);
  }

  /** The first entry with the name takes the new one's place; the others go. */
  set(name: string, value: string | Blob, filename: string | undefined = undefined): void {
    const where = "Failed to execute 'set' on 'FormData'";
    requireArguments(arguments.length, 2, where);
    const entry = createEntry(arguments.length, name, value, filename, where);
    const index = this.#entries.findIndex((other) => other[0] === entry[0]);
    if (index < 0) {
      this.#entries.push(entry);
      return;
    }
    this.#entries = this.#entries.filter((other, i) => i <= index || other[0] !== entry[0]);
    this.#entries[index] = entry;
  }

  forEach(callback: (value: FormDataEntryValue, name: string, parent: FormData) => void, thisArg: unknown = undefined): void {
    const where = "Failed to execute 'forEach' on 'FormData'";
    requireArguments(arguments.length, 1, where);
    if (typeof callback !== 'function') throw new TypeError(`${where}: the callback is not a function`);
    // WebIDL pair iterator forEach: the list is looked up again after each call.
    for (let i = 0; i < this.#entries.length; i++) {
      const [name, value] = this.#entries[i]!;
      Reflect.apply(callback, thisArg, [value, name, this]);
    }
  }

  keys(): FormDataIterator<string> {
    return new FormDataIterator(this, 'key');
  }

  values(): FormDataIterator<FormDataEntryValue> {
    return new FormDataIterator(this, 'value');
  }

  entries(): FormDataIterator<[string, FormDataEntryValue]> {
    return new FormDataIterator(this, 'key+value');
  }

  declare [Symbol.iterator]: () => FormDataIterator<[string, FormDataEntryValue]>;

  static {
    entryListOf = (formData) => formData.#entries;
    adoptEntryList = (formData, entries) => {
      formData.#entries = entries;
    };
    isFormDataImpl = (value) => #entries in value;
  }
}

// WebIDL iterable declarations: @@iterator is the same function object as entries.
Object.defineProperty(FormData.prototype, Symbol.iterator, nullProto({
  value: FormData.prototype.entries,
  writable: true,
  enumerable: false,
  configurable: true,
}));
defineInterface(FormData, 'FormData');

/** WebIDL "default iterator objects" for FormData's pair iterator: it follows the entry list as it changes. */
class FormDataIterator<T> {
  #target: FormData;
  #kind: 'key' | 'value' | 'key+value';
  #index = 0;

  constructor(target: FormData, kind: 'key' | 'value' | 'key+value') {
    this.#target = target;
    this.#kind = kind;
  }

  next(): IteratorResult<T, undefined> {
    const entry = entryListOf(this.#target)[this.#index];
    if (entry === undefined) return { value: undefined, done: true };
    this.#index++;
    const value = this.#kind === 'key' ? entry[0] : this.#kind === 'value' ? entry[1] : [entry[0], entry[1]];
    return { value: value as T, done: false };
  }

  declare [Symbol.iterator]: () => FormDataIterator<T>;
}

// As for Headers' iterator: %IteratorPrototype% above, only next() of its own.
Object.setPrototypeOf(FormDataIterator.prototype, Object.getPrototypeOf(Object.getPrototypeOf([][Symbol.iterator]())));
Reflect.deleteProperty(FormDataIterator.prototype, 'constructor');
defineIteratorPrototype(FormDataIterator.prototype, 'FormData Iterator');

// The Body mixin's view of form data: module functions, out of tenants' reach.

export function isFormData(value: unknown): value is FormData {
  return typeof value === 'object' && value !== null && isFormDataImpl(value);
}

/** The entry list, not a copy: the caller must not change it. */
export function formDataEntryList(formData: FormData): readonly FormDataEntry[] {
  return entryListOf(formData);
}

/** A FormData over entries the caller gives up, each already a valid entry. */
export function createFormData(entries: FormDataEntry[]): FormData {
  const formData = new FormData();
  adoptEntryList(formData, entries);
  return formData;
}
