// The global scope as an event target, as workerd's ServiceWorkerGlobalScope is: listeners of any
// type, dispatchEvent(), and reportError() firing an ErrorEvent at them. 'fetch' and 'scheduled'
// listeners are the service-worker dispatch's (dispatch/service-worker.ts), which passes the
// other types here.
import { dispatchEventAs, EventTarget, fireEventAs, hasEventListener, type Event } from './event.ts';

type ErrorEventClass = new (type: string, init: Record<string, unknown>) => Event;

export interface GlobalScope {
  addEventListener(type: string, listener: unknown, options?: unknown): void;
  removeEventListener(type: string, listener: unknown, options?: unknown): void;
  dispatchEvent(event: unknown): boolean;
  reportError(error: unknown): void;
}

/**
 * errorEvent gives the ErrorEvent class (evaluated lazily: only a reportError with an 'error'
 * listener asks for it); log writes an uncaught error's "Uncaught …" line.
 */
export function defineGlobalScope(errorEvent: () => ErrorEventClass, log: (error: unknown) => void): GlobalScope {
  // Made with the first listener: nothing at snapshot time, nothing for a tenant that adds none.
  let listeners: EventTarget | undefined;
  const scope = (): EventTarget => (listeners ??= new EventTarget());
  function reportError(error: unknown): void {
    if (listeners !== undefined && hasEventListener(listeners, 'error')) {
      // As workerd: V8's message for the value ("Uncaught Error: x") and where it was made
      // (an Error's first frame, else reportError's caller).
      const at = whereMade(error, reportError);
      const message = `Uncaught ${error instanceof Error ? `${error.name}: ${error.message}` : String(error)}`;
      // Not cancelable on workerd either: the error is logged whatever the listeners do.
      fireEventAs(listeners, new (errorEvent())('error', { message, error, ...at }), globalThis);
    }
    log(error);
  }
  return {
    reportError,
    addEventListener(type, listener, options) {
      scope().addEventListener(type, listener as never, options as never);
    },
    removeEventListener(type, listener, options) {
      scope().removeEventListener(type, listener as never, options as never);
    },
    dispatchEvent(event) {
      return dispatchEventAs(scope(), event, globalThis);
    },
  };
}

interface Where {
  filename: string;
  lineno: number;
  colno: number;
}

/** The "file:line:col" of the first frame of error's stack, or of the stack above caller. */
function whereMade(error: unknown, caller: Function): Where {
  let stack: unknown;
  if (error instanceof Error) stack = error.stack;
  else {
    const holder: { stack?: string } = {};
    Error.captureStackTrace(holder, caller);
    stack = holder.stack;
  }
  const frame = typeof stack === 'string' ? /\n\s+at (?:.*\()?(.+?):(\d+):(\d+)\)?$/m.exec(stack) : null;
  return frame === null ? { filename: '', lineno: 0, colno: 0 } : { filename: frame[1]!, lineno: Number(frame[2]), colno: Number(frame[3]) };
}
