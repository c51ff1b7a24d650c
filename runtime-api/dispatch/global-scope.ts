// The isolate's global scope as an event target (web/global-scope.ts): its ErrorEvent is the
// lazily made one tenants see, and what it cannot hand to a listener goes to the host log.
import { reportError } from '../host/timers.ts';
import { eventInterfaces } from '../web/event-interfaces.ts';
import { defineGlobalScope } from '../web/global-scope.ts';

export const globalScope = defineGlobalScope(() => eventInterfaces().ErrorEvent as never, reportError);
