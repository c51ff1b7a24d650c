// WebIDL "DOMException". Its prototype's [[Prototype]] is
// %Error.prototype% (extending Error also gives instances a V8 stack).
import { defineInterface, nullProto, toDOMString } from '../webidl/index.ts';

// WebIDL "error names" table: the names that carry a legacy code.
const legacyCodes = new Map(Object.entries({
  IndexSizeError: 1,
  HierarchyRequestError: 3,
  WrongDocumentError: 4,
  InvalidCharacterError: 5,
  NoModificationAllowedError: 7,
  NotFoundError: 8,
  NotSupportedError: 9,
  InUseAttributeError: 10,
  InvalidStateError: 11,
  SyntaxError: 12,
  InvalidModificationError: 13,
  NamespaceError: 14,
  InvalidAccessError: 15,
  TypeMismatchError: 17,
  SecurityError: 18,
  NetworkError: 19,
  AbortError: 20,
  URLMismatchError: 21,
  QuotaExceededError: 22,
  TimeoutError: 23,
  InvalidNodeTypeError: 24,
  DataCloneError: 25,
}));

let isDOMExceptionImpl: (value: object) => boolean;
// V8's, taken at load (a tenant may replace Error's own).
const defineProperty = Object.defineProperty;
const captureStackTrace = (Error as { captureStackTrace?: (target: object, constructor: Function) => void }).captureStackTrace;

export class DOMException extends Error {
  // WebIDL legacy code constants, also on the prototype (set up below).
  static readonly INDEX_SIZE_ERR = 1;
  static readonly DOMSTRING_SIZE_ERR = 2;
  static readonly HIERARCHY_REQUEST_ERR = 3;
  static readonly WRONG_DOCUMENT_ERR = 4;
  static readonly INVALID_CHARACTER_ERR = 5;
  static readonly NO_DATA_ALLOWED_ERR = 6;
  static readonly NO_MODIFICATION_ALLOWED_ERR = 7;
  static readonly NOT_FOUND_ERR = 8;
  static readonly NOT_SUPPORTED_ERR = 9;
  static readonly INUSE_ATTRIBUTE_ERR = 10;
  static readonly INVALID_STATE_ERR = 11;
  static readonly SYNTAX_ERR = 12;
  static readonly INVALID_MODIFICATION_ERR = 13;
  static readonly NAMESPACE_ERR = 14;
  static readonly INVALID_ACCESS_ERR = 15;
  static readonly VALIDATION_ERR = 16;
  static readonly TYPE_MISMATCH_ERR = 17;
  static readonly SECURITY_ERR = 18;
  static readonly NETWORK_ERR = 19;
  static readonly ABORT_ERR = 20;
  static readonly URL_MISMATCH_ERR = 21;
  static readonly QUOTA_EXCEEDED_ERR = 22;
  static readonly TIMEOUT_ERR = 23;
  static readonly INVALID_NODE_TYPE_ERR = 24;
  static readonly DATA_CLONE_ERR = 25;

  // name and message are prototype getters in WebIDL, not own properties, so
  // super() gets no message; V8 formats the stack lazily through these getters.
  #name: string;
  #message: string;

  constructor(message: unknown = '', name: unknown = 'Error') {
    super();
    this.#message = toDOMString(message);
    this.#name = toDOMString(name);
    // V8 writes a stack's first line from the data properties name and message, and these are
    // getters: it read "Name" alone, and logs showed no message. Taken on a stand-in that has
    // them as data, it reads "Name: message", as workerd's does.
    if (captureStackTrace) {
      const holder = { name: this.#name, message: this.#message, stack: '' };
      captureStackTrace(holder, DOMException);
      defineProperty(this, 'stack', nullProto({ value: holder.stack, writable: true, configurable: true, enumerable: false }));
    }
  }

  override get name(): string {
    return this.#name;
  }

  override get message(): string {
    return this.#message;
  }

  get code(): number {
    return legacyCodes.get(this.#name) ?? 0;
  }

  static {
    isDOMExceptionImpl = (value) => #name in value;
  }
}

/** Brand check, for structuredClone (DOMException is [Serializable]). */
export function isDOMException(value: object): value is DOMException {
  return isDOMExceptionImpl(value);
}

defineInterface(DOMException, 'DOMException');
for (const key of Object.getOwnPropertyNames(DOMException)) {
  if (!key.endsWith('_ERR')) continue;
  const value = (DOMException as unknown as Record<string, number>)[key];
  const descriptor = nullProto({ value, writable: false, enumerable: true, configurable: false });
  Object.defineProperty(DOMException, key, descriptor);
  Object.defineProperty(DOMException.prototype, key, descriptor);
}
