// The gateway: one Hono app in front of the engine. /_islet/* is the admin API; everything else
// goes to the function named by the first label of the Host header (hello.localhost → hello).
import type { IncomingMessage } from 'node:http';
import { Hono, type Context } from 'hono';
import type { Engine } from '../engine.ts';
import { adminApi, type AdminWrite } from './admin.ts';
import { errorAnswer } from '../errors.ts';
import { islet } from './middleware.ts';

export interface GatewayOptions {
  /** Bearer token for /_islet/; without one the admin API answers 401. */
  adminToken?: string;
  /** Serve this one function on every host and path (islet dev). */
  function?: string;
  /** With `function`: GET /__scheduled?cron=…&time=… runs its scheduled handler (islet dev --test-scheduled). */
  testScheduled?: boolean;
  /**
   * Told of each deploy (its config) and removal (undefined) made through the admin API, in the
   * order they took effect in the engine (a supervisor keeps them for the engines it starts later).
   */
  onAdminWrite?: AdminWrite;
  /** Behind a TLS-terminating proxy: request URLs take their scheme from X-Forwarded-Proto. */
  trustProxy?: boolean;
}

export function createGateway(engine: Engine, options: GatewayOptions = {}): Hono {
  const app = new Hono();
  if (options.function === undefined) app.route('/_islet', adminApi(engine, options.adminToken, options.onAdminWrite));
  const fn = options.function;
  if (fn !== undefined && options.testScheduled) {
    app.get('/__scheduled', async (c) => {
      // As wrangler's: ?time=<ms since the epoch> is the run's controller.scheduledTime (a test of
      // code that branches on the hour or the day), and without one (or empty) it is now.
      const time = c.req.query('time') || undefined;
      const scheduledTime = time === undefined ? Date.now() : Number(time);
      if (time !== undefined && !(/^\d{1,16}$/.test(time) && scheduledTime <= MAX_DATE_MS)) {
        return c.text(`?time must be a time in milliseconds since the epoch (as Date.now() gives, e.g. ${Date.now()}), got ${JSON.stringify(time.slice(0, 64))}\n`, 400);
      }
      try {
        await engine.scheduled(fn, c.req.query('cron') ?? '', scheduledTime);
        return c.text('Ran scheduled event\n');
      } catch (err) {
        // engine.scheduled has logged it: answered without a second line (errorResponse logs).
        const answer = errorAnswer(err, fn, engine.exposeStack);
        return new Response(answer.body, { status: answer.status, headers: answer.headers });
      }
    });
  }
  app.use('*', islet(engine, { function: options.function ?? functionFromHost, trustProxy: options.trustProxy ?? false }));
  app.onError((err, c) => engine.errorResponse(err, undefined));
  return app;
}

/** The latest time a Date holds (ECMAScript's time range), in ms since the epoch. */
const MAX_DATE_MS = 8.64e15;

// An IPv4 address with an optional port: its first label is a number, not a function's name.
// (An IPv6 literal, "[::1]:8787", has no dot before its first label.)
const IPV4_HOST = /^\d{1,3}(?:\.\d{1,3}){3}(?::\d*)?$/;

/** "hello.localhost:8787" → "hello". A bare host (no dot) or an IP address names no function. */
export function functionFromHost(c: Context): string {
  const incoming = (c.env as { incoming?: IncomingMessage } | undefined)?.incoming;
  // Node's parsed Host, where there is one: reading the Web Request's headers would build them.
  // Off Node (or in app.request()) there may be no Host header: the URL's host is the same thing.
  const host = incoming?.headers.host ?? c.req.header('host') ?? new URL(c.req.url).host;
  return functionForTarget(incoming?.url, host);
}

/**
 * The function a request line's target and Host header name. An absolute-form target ("GET
 * http://a.example/x") names the host itself, and the Host header is then ignored (RFC 9112
 * §3.2.2), as requestUrl does for the URL the function sees. The supervisor routes with this too,
 * so that it sends a request to the engine that serves the function the engine will pick.
 */
export function functionForTarget(target: string | undefined, hostHeader: string): string {
  if (target !== undefined && target.charCodeAt(0) !== 47 /* / */) {
    const host = URL.parse(target)?.host;
    if (host) return functionFromHostHeader(host);
  }
  return functionFromHostHeader(hostHeader);
}

// What the URL parser would change in an origin-form target: escapes, dot segments, backslashes,
// a fragment, a leading "//" (read as a host), characters it strips or escapes.
const NEEDS_PARSING = /^\/\/|[%\\#\s"<>^`{|}]|\/\.|[^\x21-\x7e]/;

/**
 * A request line's target's path as the gateway's router sees it: after the URL parser resolved
 * dot segments ("/x/../_islet") and Hono decoded escapes ("/%5Fislet").
 */
export function routerPath(target: string): string {
  // The usual origin-form target ("/a/b?c") is its own path up to its query: the supervisor asks
  // this of every request it proxies, so the URL parser is kept for the targets it would change.
  if (target.charCodeAt(0) === 47 /* / */ && !NEEDS_PARSING.test(target)) {
    const query = target.indexOf('?');
    return query < 0 ? target : target.slice(0, query);
  }
  const path = URL.parse(target, 'http://gateway.invalid')?.pathname ?? '/';
  if (!path.includes('%')) return path;
  try {
    return decodeURI(path);
  } catch {
    return path; // not decodable: the router leaves it as it is too
  }
}

/** Whether a request line's target is the admin API, as the gateway's router decides it. */
export function isAdminTarget(target: string): boolean {
  const path = routerPath(target);
  return path === '/_islet' || path.startsWith('/_islet/');
}

export function functionFromHostHeader(host: string): string {
  const dot = host.indexOf('.');
  if (dot > 0 && host.charCodeAt(0) <= 57 /* 9 */ && IPV4_HOST.test(host)) return '';
  return dot > 0 ? host.slice(0, dot).toLowerCase() : '';
}
