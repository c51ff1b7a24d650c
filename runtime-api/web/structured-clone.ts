// HTML §2.7 "Safe passing of structured data": structuredClone() runs
// StructuredSerializeWithTransfer and StructuredDeserializeWithTransfer back to
// back in one realm. The serialized form is a graph of the records below; as in
// the spec, serialization finishes (getters run, transfers detach) before any
// clone exists.
import {
  isArrayBuffer, isPlatformPrototype, isSharedArrayBuffer, isSharedArrayBufferPrototype, nullProto, requireArguments, toDictionary,
  toDOMString, typedArrayName,
} from '../webidl/index.ts';
import { DOMException, isDOMException } from './dom-exception.ts';
import { Blob, blobBytes, blobType, createBlob, createFile, File, fileLastModified, fileName, isBlob, isFile } from './blob.ts';

type Primitive = undefined | null | boolean | number | bigint | string;
type Serialized = Primitive | SerializedRecord;

interface RecordBase {
  /** The object StructuredDeserialize made from this record ("memory"). */
  deserialized?: object;
}
interface WrapperRecord extends RecordBase {
  type: 'Boolean' | 'Number' | 'BigInt' | 'String' | 'Date';
  data: Primitive;
}
interface RegExpRecord extends RecordBase {
  type: 'RegExp';
  source: string;
  flags: string;
}
interface ArrayBufferRecord extends RecordBase {
  type: 'ArrayBuffer';
  /** The clone's buffer: a copy, or for a transfer the moved one (null until moved). */
  buffer: ArrayBuffer | null;
}
interface ViewRecord extends RecordBase {
  type: 'ArrayBufferView';
  constructorName: string;
  buffer: ArrayBufferRecord;
  byteOffset: number;
  /** Element count for typed arrays, byte count for DataView. */
  length: number;
}
interface MapRecord extends RecordBase {
  type: 'Map';
  entries: Serialized[]; // key0, value0, key1, value1…
}
interface SetRecord extends RecordBase {
  type: 'Set';
  values: Serialized[];
}
interface ErrorRecord extends RecordBase {
  type: 'Error';
  name: string;
  message: string | undefined;
  // Not in HTML's steps, which invite "interesting accompanying data"; V8 keeps both.
  stack: string | undefined;
  cause: { value: Serialized } | undefined;
}
interface DOMExceptionRecord extends RecordBase {
  type: 'DOMException';
  name: string;
  message: string;
}
/** File API Blob and File serialization steps; the bytes are shared, since a blob's never change. */
interface BlobRecord extends RecordBase {
  type: 'Blob' | 'File';
  bytes: Uint8Array<ArrayBuffer>;
  blobType: string;
  name: string;
  lastModified: number;
}
interface ObjectRecord extends RecordBase {
  type: 'Array' | 'Object';
  length: number;
  properties: (string | Serialized)[]; // key0, value0, key1, value1…
}
type SerializedRecord =
  | WrapperRecord
  | RegExpRecord
  | ArrayBufferRecord
  | ViewRecord
  | MapRecord
  | SetRecord
  | ErrorRecord
  | DOMExceptionRecord
  | BlobRecord
  | ObjectRecord;

type Memory = Map<object, SerializedRecord>;

function dataCloneError(message: string): DOMException {
  return new DOMException(message, 'DataCloneError');
}

/** HTML structuredClone(value, options). */
export function structuredClone<T>(value: T, options: unknown = undefined): T {
  requireArguments(arguments.length, 1, "Failed to execute 'structuredClone'");
  const dict = toDictionary(options, "Failed to execute 'structuredClone'");
  const transfer = dict === undefined || dict.transfer === undefined ? [] : toSequenceOfObjects(dict.transfer);
  const serialized = structuredSerializeWithTransfer(value, transfer);
  // StructuredDeserializeWithTransfer needs no step of its own: a transferred
  // buffer's record already holds the moved ArrayBuffer.
  return structuredDeserialize(serialized) as T;
}

/** WebIDL sequence<object> conversion. */
function toSequenceOfObjects(value: unknown): object[] {
  const iterator = value === null || typeof value !== 'object' ? undefined : (value as Iterable<unknown>)[Symbol.iterator];
  if (typeof iterator !== 'function') {
    throw new TypeError("Failed to execute 'structuredClone': options.transfer is not a sequence");
  }
  const out: object[] = [];
  for (const item of value as Iterable<unknown>) {
    if (item === null || (typeof item !== 'object' && typeof item !== 'function')) {
      throw new TypeError("Failed to execute 'structuredClone': options.transfer has an item that is not an object");
    }
    out.push(item);
  }
  return out;
}

/** HTML StructuredSerializeWithTransfer. Only ArrayBuffers are transferable here. */
function structuredSerializeWithTransfer(value: unknown, transferList: object[]): Serialized {
  const memory: Memory = new Map();
  for (const transferable of transferList) {
    if (!isArrayBuffer(transferable)) {
      throw dataCloneError('Only (non-shared) ArrayBuffers can be transferred');
    }
    if (memory.has(transferable)) throw dataCloneError('The transfer list contains the same ArrayBuffer twice');
    memory.set(transferable, { type: 'ArrayBuffer', buffer: null });
  }
  const serialized = structuredSerializeInternal(value, memory);
  for (const transferable of transferList as ArrayBuffer[]) {
    if (transferable.detached) throw dataCloneError('An ArrayBuffer in the transfer list is detached');
  }
  for (const transferable of transferList as ArrayBuffer[]) {
    // transfer() keeps resizability, moves the bytes without a copy, and detaches.
    (memory.get(transferable) as ArrayBufferRecord).buffer = transferable.transfer();
  }
  return serialized;
}

// What an object is, by its internal slots. Found from its prototype chain, then
// confirmed with a brand check that throws nothing for a real instance; objects
// whose prototype was swapped are treated as the ordinary objects they look like.
type Kind =
  | 'Object'
  | 'Boolean'
  | 'Number'
  | 'BigInt'
  | 'String'
  | 'Date'
  | 'RegExp'
  | 'ArrayBuffer'
  | 'SharedArrayBuffer'
  | 'Map'
  | 'Set'
  | 'Error'
  | 'DOMException'
  | 'Blob'
  | 'File'
  | 'Platform'
  | 'Uncloneable';

function getter(proto: object, key: string | symbol): (this: unknown) => unknown {
  return Object.getOwnPropertyDescriptor(proto, key)!.get!;
}

function succeeds(f: () => unknown): boolean {
  try {
    f();
    return true;
  } catch {
    return false;
  }
}

const errorIsError = (Error as { isError?: (value: unknown) => boolean }).isError;
const brandChecks: Partial<Record<Kind, (value: object) => boolean>> = {
  Boolean: (v) => succeeds(() => Boolean.prototype.valueOf.call(v)),
  Number: (v) => succeeds(() => Number.prototype.valueOf.call(v)),
  BigInt: (v) => succeeds(() => BigInt.prototype.valueOf.call(v)),
  String: (v) => succeeds(() => String.prototype.valueOf.call(v)),
  Date: (v) => succeeds(() => Date.prototype.getTime.call(v)),
  RegExp: (v) => succeeds(() => getter(RegExp.prototype, 'source').call(v)),
  ArrayBuffer: (v) => isArrayBuffer(v),
  Map: (v) => succeeds(() => getter(Map.prototype, 'size').call(v)),
  Set: (v) => succeeds(() => getter(Set.prototype, 'size').call(v)),
  Error: (v) => (errorIsError === undefined ? true : errorIsError(v)),
  DOMException: (v) => isDOMException(v),
  Blob: (v) => isBlob(v),
  File: (v) => isFile(v),
};

const prototypeKinds = new Map<object, Kind>([
  [Object.prototype, 'Object'],
  [Boolean.prototype, 'Boolean'],
  [Number.prototype, 'Number'],
  [BigInt.prototype, 'BigInt'],
  [String.prototype, 'String'],
  [Date.prototype, 'Date'],
  [RegExp.prototype, 'RegExp'],
  [ArrayBuffer.prototype, 'ArrayBuffer'],
  [Map.prototype, 'Map'],
  [Set.prototype, 'Set'],
  [Error.prototype, 'Error'],
  [DOMException.prototype, 'DOMException'],
  [Blob.prototype, 'Blob'],
  [File.prototype, 'File'],
]);
// Objects with internal slots HTML cannot serialize (step 21): weak collections,
// promises, symbols, generators, built-in iterators, Intl objects…
for (const proto of [
  WeakMap.prototype,
  WeakSet.prototype,
  WeakRef.prototype,
  FinalizationRegistry.prototype,
  Promise.prototype,
  Symbol.prototype,
  Object.getPrototypeOf(function* () {}).prototype,
  Object.getPrototypeOf(async function* () {}).prototype,
  Object.getPrototypeOf([][Symbol.iterator]()),
  Object.getPrototypeOf(new Map()[Symbol.iterator]()),
  Object.getPrototypeOf(new Set()[Symbol.iterator]()),
  Object.getPrototypeOf(''[Symbol.iterator]()),
  Object.getPrototypeOf(/(?:)/[Symbol.matchAll]('')),
  ...(typeof Intl === 'object'
    ? Object.getOwnPropertyNames(Intl).map((key) => (Intl as unknown as Record<string, { prototype?: object }>)[key]!.prototype)
    : []),
]) {
  if (proto) prototypeKinds.set(proto as object, 'Uncloneable');
}

function classify(value: object): Kind {
  for (let proto = Object.getPrototypeOf(value); proto !== null; proto = Object.getPrototypeOf(proto)) {
    const kind = prototypeKinds.get(proto);
    if (kind === 'Object') return kind;
    if (kind === 'Uncloneable') return kind;
    if (kind !== undefined) {
      if (brandChecks[kind]!(value)) return kind;
    } else if (isPlatformPrototype(proto)) {
      return 'Platform';
    } else if (isSharedArrayBufferPrototype(proto) && isSharedArrayBuffer(value)) {
      // Not in prototypeKinds: an isolate booted from a snapshot gains SharedArrayBuffer after this module loads.
      return 'SharedArrayBuffer';
    }
  }
  return 'Object'; // a null-prototype object
}

const typedArrayPrototype = Object.getPrototypeOf(Uint8Array.prototype) as object;
const typedArrayBuffer = getter(typedArrayPrototype, 'buffer');
const typedArrayByteOffset = getter(typedArrayPrototype, 'byteOffset');
const typedArrayLength = getter(typedArrayPrototype, 'length');
const dataViewBuffer = getter(DataView.prototype, 'buffer');
const dataViewByteOffset = getter(DataView.prototype, 'byteOffset');
const dataViewByteLength = getter(DataView.prototype, 'byteLength');
const mapForEach = Map.prototype.forEach;
const setForEach = Set.prototype.forEach;
const mapHas = Map.prototype.has;
const mapGet = Map.prototype.get;
const setHas = Set.prototype.has;
const mapSet = Map.prototype.set;
const setAdd = Set.prototype.add;
const hasOwn = Object.prototype.hasOwnProperty;
const errorNames = new Set(['Error', 'EvalError', 'RangeError', 'ReferenceError', 'SyntaxError', 'TypeError', 'URIError']);

/** HTML StructuredSerializeInternal(value, forStorage = false, memory). */
function structuredSerializeInternal(value: unknown, memory: Memory): Serialized {
  if (typeof value === 'symbol') throw dataCloneError(`${String(value)} could not be cloned`);
  if (typeof value === 'function') throw dataCloneError(`function ${value.name || '(anonymous)'} could not be cloned`);
  if (typeof value !== 'object' || value === null) return value as Primitive;
  const remembered = memory.get(value);
  if (remembered !== undefined) return remembered;

  if (Array.isArray(value)) {
    const record: ObjectRecord = { type: 'Array', length: value.length, properties: [] };
    memory.set(value, record);
    serializeProperties(value, record, memory);
    return record;
  }
  if (ArrayBuffer.isView(value)) return serializeView(value, memory);

  const kind = classify(value);
  let record: SerializedRecord;
  switch (kind) {
    case 'Boolean':
      record = { type: kind, data: Boolean.prototype.valueOf.call(value) };
      break;
    case 'Number':
      record = { type: kind, data: Number.prototype.valueOf.call(value) };
      break;
    case 'BigInt':
      record = { type: kind, data: BigInt.prototype.valueOf.call(value) };
      break;
    case 'String':
      record = { type: kind, data: String.prototype.valueOf.call(value) };
      break;
    case 'Date':
      record = { type: kind, data: Date.prototype.getTime.call(value) };
      break;
    case 'RegExp':
      record = {
        type: kind,
        source: getter(RegExp.prototype, 'source').call(value) as string,
        flags: originalFlags(value),
      };
      break;
    case 'ArrayBuffer':
      record = { type: kind, buffer: copyArrayBuffer(value as ArrayBuffer) };
      break;
    case 'SharedArrayBuffer':
      // Sharing memory needs cross-origin isolation, which a worker never has.
      throw dataCloneError('SharedArrayBuffer cannot be cloned (no cross-origin isolation)');
    case 'Map': {
      const map: MapRecord = { type: kind, entries: [] };
      memory.set(value, map);
      const copied: unknown[] = [];
      mapForEach.call(value, (v: unknown, k: unknown) => copied.push(k, v));
      for (let i = 0; i < copied.length; i += 2) {
        // An entry a getter deleted meanwhile is skipped; its value is the current one.
        const key = copied[i];
        if (!mapHas.call(value, key)) continue;
        map.entries.push(structuredSerializeInternal(key, memory));
        map.entries.push(structuredSerializeInternal(mapGet.call(value, key), memory));
      }
      return map;
    }
    case 'Set': {
      const set: SetRecord = { type: kind, values: [] };
      memory.set(value, set);
      const copied: unknown[] = [];
      setForEach.call(value, (v: unknown) => copied.push(v));
      for (const v of copied) {
        if (setHas.call(value, v)) set.values.push(structuredSerializeInternal(v, memory));
      }
      return set;
    }
    case 'Error':
      return serializeError(value as Error, memory);
    case 'DOMException':
      // WebIDL DOMException serialization steps.
      record = { type: kind, name: (value as DOMException).name, message: (value as DOMException).message };
      break;
    case 'Blob':
    case 'File': {
      const file = kind === 'File';
      record = {
        type: kind, bytes: blobBytes(value as Blob), blobType: blobType(value as Blob),
        name: file ? fileName(value as File) : '', lastModified: file ? fileLastModified(value as File) : 0,
      };
      break;
    }
    case 'Platform':
      throw dataCloneError(`${Object.prototype.toString.call(value)} could not be cloned`);
    case 'Uncloneable':
      throw dataCloneError(`${Object.prototype.toString.call(value)} could not be cloned`);
    case 'Object': {
      const object: ObjectRecord = { type: kind, length: 0, properties: [] };
      memory.set(value, object);
      serializeProperties(value, object, memory);
      return object;
    }
  }
  memory.set(value, record);
  return record;
}

// The flag getters read [[OriginalFlags]]; the generic flags getter would read
// properties a tenant can shadow.
const regExpFlagGetters = (
  [
    ['d', 'hasIndices'],
    ['g', 'global'],
    ['i', 'ignoreCase'],
    ['m', 'multiline'],
    ['s', 'dotAll'],
    ['u', 'unicode'],
    ['v', 'unicodeSets'],
    ['y', 'sticky'],
  ] as const
)
  .filter(([, key]) => Object.getOwnPropertyDescriptor(RegExp.prototype, key) !== undefined)
  .map(([flag, key]) => [flag, getter(RegExp.prototype, key)] as const);

function originalFlags(regExp: object): string {
  let flags = '';
  for (const [flag, get] of regExpFlagGetters) if (get.call(regExp)) flags += flag;
  return flags;
}

/** Deep step for Array and Object: own enumerable string keys, re-checked and read with Get. */
function serializeProperties(value: object, record: ObjectRecord, memory: Memory): void {
  for (const key of Object.keys(value)) {
    if (!hasOwn.call(value, key)) continue;
    const serialized = structuredSerializeInternal((value as Record<string, unknown>)[key], memory);
    record.properties.push(key, serialized);
  }
}

function copyArrayBuffer(buffer: ArrayBuffer): ArrayBuffer {
  if (buffer.detached) throw dataCloneError('A detached ArrayBuffer could not be cloned');
  if (!buffer.resizable) return buffer.slice(0);
  const copy = new ArrayBuffer(buffer.byteLength, { maxByteLength: buffer.maxByteLength });
  new Uint8Array(copy).set(new Uint8Array(buffer));
  return copy;
}

function serializeView(view: ArrayBufferView, memory: Memory): ViewRecord {
  const name = typedArrayName(view);
  let buffer: ArrayBuffer;
  let byteOffset: number;
  let length: number;
  try {
    buffer = (name === undefined ? dataViewBuffer : typedArrayBuffer).call(view) as ArrayBuffer;
    byteOffset = (name === undefined ? dataViewByteOffset : typedArrayByteOffset).call(view) as number;
    length = (name === undefined ? dataViewByteLength : typedArrayLength).call(view) as number;
  } catch {
    throw dataCloneError('An out-of-bounds ArrayBufferView could not be cloned');
  }
  if (buffer.detached) throw dataCloneError('An ArrayBufferView over a detached buffer could not be cloned');
  const bufferRecord = structuredSerializeInternal(buffer, memory) as ArrayBufferRecord;
  const record: ViewRecord = { type: 'ArrayBufferView', constructorName: name ?? 'DataView', buffer: bufferRecord, byteOffset, length };
  memory.set(view, record);
  return record;
}

function serializeError(value: Error, memory: Memory): ErrorRecord {
  const name = value.name;
  const messageDescriptor = Object.getOwnPropertyDescriptor(value, 'message');
  const message = messageDescriptor !== undefined && Object.hasOwn(messageDescriptor, 'value') ? toDOMString(messageDescriptor.value) : undefined;
  const stack = value.stack;
  const record: ErrorRecord = {
    type: 'Error',
    name: errorNames.has(name) ? name : 'Error',
    message,
    stack: typeof stack === 'string' ? stack : undefined,
    cause: undefined,
  };
  memory.set(value, record); // before the cause, which may lead back here
  const causeDescriptor = Object.getOwnPropertyDescriptor(value, 'cause');
  if (causeDescriptor !== undefined && Object.hasOwn(causeDescriptor, 'value')) {
    record.cause = { value: structuredSerializeInternal(causeDescriptor.value, memory) };
  }
  return record;
}

const errorConstructors: Record<string, ErrorConstructor> = {
  Error,
  EvalError,
  RangeError,
  ReferenceError,
  SyntaxError,
  TypeError,
  URIError,
};

const viewConstructors: Record<string, new (buffer: ArrayBuffer, byteOffset: number, length: number) => ArrayBufferView> = {
  Int8Array,
  Uint8Array,
  Uint8ClampedArray,
  Int16Array,
  Uint16Array,
  Int32Array,
  Uint32Array,
  Float32Array,
  Float64Array,
  BigInt64Array,
  BigUint64Array,
  DataView,
};
const Float16 = (globalThis as { Float16Array?: (typeof viewConstructors)[string] }).Float16Array;
if (Float16 !== undefined) viewConstructors.Float16Array = Float16;

function defineValue(target: object, key: string, value: unknown, enumerable: boolean): void {
  Object.defineProperty(target, key, nullProto({ value, writable: true, enumerable, configurable: true }));
}

/** HTML StructuredDeserialize(serialized, targetRealm, memory), memory kept on the records. */
function structuredDeserialize(serialized: Serialized): unknown {
  if (typeof serialized !== 'object' || serialized === null) return serialized;
  if (serialized.deserialized !== undefined) return serialized.deserialized;
  let value: object;
  switch (serialized.type) {
    case 'Boolean':
    case 'Number':
    case 'BigInt':
    case 'String':
      value = Object(serialized.data);
      break;
    case 'Date':
      value = new Date(serialized.data as number);
      break;
    case 'RegExp':
      value = new RegExp(serialized.source, serialized.flags);
      break;
    case 'ArrayBuffer':
      value = serialized.buffer!;
      break;
    case 'ArrayBufferView': {
      const buffer = structuredDeserialize(serialized.buffer) as ArrayBuffer;
      value = new viewConstructors[serialized.constructorName]!(buffer, serialized.byteOffset, serialized.length);
      break;
    }
    case 'Map': {
      const map = new Map();
      serialized.deserialized = map;
      const entries = serialized.entries;
      for (let i = 0; i < entries.length; i += 2) {
        mapSet.call(map, structuredDeserialize(entries[i]), structuredDeserialize(entries[i + 1]));
      }
      return map;
    }
    case 'Set': {
      const set = new Set();
      serialized.deserialized = set;
      for (const v of serialized.values) setAdd.call(set, structuredDeserialize(v));
      return set;
    }
    case 'Error': {
      const error = new errorConstructors[serialized.name]!();
      if (serialized.message !== undefined) defineValue(error, 'message', serialized.message, false);
      if (serialized.stack !== undefined) defineValue(error, 'stack', serialized.stack, false);
      serialized.deserialized = error;
      if (serialized.cause !== undefined) defineValue(error, 'cause', structuredDeserialize(serialized.cause.value), false);
      return error;
    }
    case 'DOMException':
      value = new DOMException(serialized.message, serialized.name);
      break;
    case 'Blob':
      value = createBlob(serialized.bytes, serialized.blobType);
      break;
    case 'File':
      value = createFile(serialized.bytes, serialized.name, serialized.blobType, serialized.lastModified);
      break;
    case 'Array':
    case 'Object': {
      const target = (serialized.type === 'Array' ? new Array(serialized.length) : {}) as Record<string, unknown>;
      serialized.deserialized = target;
      const properties = serialized.properties;
      for (let i = 0; i < properties.length; i += 2) {
        const key = properties[i] as string;
        const v = structuredDeserialize(properties[i + 1]);
        // CreateDataProperty: an inherited setter (say __proto__) must not run.
        if (key in target) defineValue(target, key, v, true);
        else target[key] = v;
      }
      return target;
    }
  }
  serialized.deserialized = value;
  return value;
}
